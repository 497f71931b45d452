"""A real SIGTERM during training keeps the last epoch checkpoint; RESUME continues to the same result."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from scripts import train
from scripts.data.dataset import load_split
from scripts.model.inference import load_predictor
from tests.helpers import tiny_args, train_run, write_binary_csv

PROJECT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_interrupt_then_resume_matches_an_uninterrupted_run(tiny_model, tmp_path):
    csv = write_binary_csv(tmp_path / "b.csv", ham=2000, spam=700)
    # one pass a batch: the comparison is bit-exact without depending on the sub-batch cuts (a fixed pass
    # cost makes them the same in both runs too: test_fast_paths.py)
    epochs = ["num_train_epochs=10", "sub_batches=False"]
    reference = train_run(csv, tiny_args(tiny_model, tmp_path / "ref") + epochs + ["run_name=run"])

    out = tmp_path / "int"
    cmd = [
        sys.executable,
        "-m",
        "scripts.train",
        "--data",
        str(csv),
        "--set",
        *tiny_args(tiny_model, out),
        *epochs,
        "run_name=run",
    ]
    proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    checkpoints = out / ".incomplete" / "run" / "checkpoints"
    deadline = time.time() + 300
    while not list(checkpoints.glob("checkpoint-*-epoch-2/model_args.json")):
        assert proc.poll() is None, "training ended before it could be interrupted"
        assert time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, f"exit {proc.returncode}: " + output[-3000:]
    assert "RESUME=1" in output and "Traceback" not in output
    assert not (out / "latest").exists() and not (out / "run").exists()  # nothing published

    assert train.main(["--resume", "--set", f"outputs_dir={out}"]) == 0
    resumed = (out / "latest").resolve()
    assert resumed.name == "run" and not (out / ".incomplete" / "run").exists()

    texts = load_split(reference / "splits" / "test.csv", "binary")["text"].tolist()
    assert texts == load_split(resumed / "splits" / "test.csv", "binary")["text"].tolist()
    a = load_predictor(reference / "model", threads=1).predict_proba(texts)
    b = load_predictor(resumed / "model", threads=1).predict_proba(texts)
    np.testing.assert_allclose(a, b, atol=1e-6)
    import pandas as pd

    h_ref, h_res = pd.read_csv(reference / "history.csv"), pd.read_csv(resumed / "history.csv")
    assert list(h_ref["epoch"]) == list(h_res["epoch"]) == list(range(1, 11))
    np.testing.assert_allclose(h_ref["eval_loss"], h_res["eval_loss"], atol=1e-6)


@pytest.mark.slow
def test_a_resumed_run_numbers_its_checkpoints_by_the_real_epoch(tiny_model, tmp_path, monkeypatch):
    """Simple Transformers numbers a resumed run's epochs from 1 again; the best-epoch lookup would then take
    another epoch's checkpoint (or none). Each resumed epoch must be saved under its own number, and the
    published model must be the best epoch's checkpoint."""
    from scripts.common import runs
    from scripts.training.checkpoints import last_checkpoint

    csv = write_binary_csv(tmp_path / "b.csv")
    out = tmp_path / "int"
    cmd = [sys.executable, "-m", "scripts.train", "--data", str(csv), "--set", *tiny_args(tiny_model, out)]
    proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (out / ".incomplete").exists() or not any(
        last_checkpoint(w / "checkpoints")
        for w in (out / ".incomplete").glob("*")
        if (w / "checkpoints").exists()
    ):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(120) == 130

    seen = {}
    publish = runs.publish

    def spy(work, outputs):
        for checkpoint in (work / "checkpoints").glob("checkpoint-*-epoch-*"):
            seen[checkpoint.name] = (checkpoint / "model.safetensors").read_bytes()
        return publish(work, outputs)

    monkeypatch.setattr(runs, "publish", spy)
    assert train.main(["--resume", "--set", f"outputs_dir={out}"]) == 0
    steps = {int(name.split("-")[3]): int(name.split("-")[1]) for name in seen}
    # the best epoch's and the last one's checkpoints are kept (the others removed as training goes), each
    # numbered by its real epoch: epoch e after e epochs' steps
    assert 3 in steps and set(steps) <= {1, 2, 3} and len(steps) <= 2
    assert all(steps[e] == e * steps[3] // 3 for e in steps)
    run = (out / "latest").resolve()
    best = runs.read_record(run)["best_epoch"]
    (chosen,) = [data for name, data in seen.items() if name.endswith(f"-epoch-{best}")]
    from safetensors.numpy import load, load_file

    published, expected = load_file(str(run / "model" / "model.safetensors")), load(chosen)
    assert all(np.array_equal(published[k], expected[k]) for k in expected)
