"""`make train NPROC=N`: torchrun + DistributedDataParallel inside Simple Transformers' loop, proven on the
CPU with gloo: 2 processes x 8 rows reach the weights and validation scores of 1 process x 16 rows, an
interrupted 2-process run resumes to the same weights, and bad launches are one line with exit code 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

from scripts.model.inference import load_predictor
from scripts.training.checkpoints import last_checkpoint
from tests.conftest import PROJECT, build_tiny_bert
from tests.helpers import train_run, write_binary_csv

pytestmark = (
    pytest.mark.slow
)  # subprocesses that import Simple Transformers: make test runs it, make test-fast not

WEIGHT_TOLERANCE = 1e-4  # float round-off of gloo's gradient sums, after Adam: ~1e-6 per epoch here


@pytest.fixture(scope="module")
def still_model(tmp_path_factory) -> Path:
    """The tiny BERT without dropout: its masks are drawn per rank, so with dropout the runs would differ."""
    return build_tiny_bert(
        tmp_path_factory.mktemp("ddp") / "still_bert",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


def settings(model: Path, outputs: Path) -> list[str]:
    return [
        f"model_name={model}",
        f"outputs_dir={outputs}",
        "num_train_epochs=3",
        "learning_rate=0.005",
        "train_batch_size=16",  # the global batch: 16 rows on one process, 8 + 8 on two
        "threads=1",
        "use_early_stopping=False",
        "balance=none",
        "model_selection=validation",  # the one-process run must select as the two-process one does
    ]


def command(csv: Path, model: Path, outputs: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scripts.train",
        "--data",
        str(csv),
        *extra,
        "--set",
        *settings(model, outputs),
    ]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, timeout=600)


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    return load_file(str(run_dir / "model" / "model.safetensors"))


def assert_same_model(a_run: Path, b_run: Path) -> None:
    """The same weights within float round-off, and the same probabilities on the test split. Attention key
    biases are held apart: softmax ignores them, so their gradient is round-off noise that Adam scales up
    to steps of the learning rate; they differ more and change no output."""
    a, b = weights(a_run), weights(b_run)
    assert a.keys() == b.keys()
    differences = {k: float(np.abs(a[k] - b[k]).max()) for k in a}
    free = {k: d for k, d in differences.items() if k.endswith("attention.self.key.bias")}
    assert len(free) == 2 and max(free.values()) < 100 * WEIGHT_TOLERANCE
    assert max(d for k, d in differences.items() if k not in free) < WEIGHT_TOLERANCE
    texts = pd.read_csv(a_run / "splits" / "test.csv")["text"].tolist()
    probs = [load_predictor(run / "model", threads=1).predict_proba(texts) for run in (a_run, b_run)]
    assert np.abs(probs[0] - probs[1]).max() < 1e-4


def scores(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "history.csv").drop(columns=["train_loss"])  # train_loss: rank 0's shard


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    # 330 training rows: the last global batch of each epoch has 10 rows, so shards of 5 (scaled to fit)
    return write_binary_csv(tmp_path_factory.mktemp("ddp_data") / "b.csv", ham=310, spam=103)


@pytest.fixture(scope="module")
def two_processes(still_model, data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("two")
    done = run(command(data, still_model, out, "--nproc", "2"))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return (out / "latest").resolve()


def test_two_processes_reach_the_weights_of_one(still_model, data, two_processes, tmp_path):
    one = train_run(data, settings(still_model, tmp_path / "one"))
    assert len(pd.read_csv(one / "splits" / "train.csv")) % 16 not in (
        0,
        1,
    )  # an uneven last batch is covered
    assert_same_model(one, two_processes)
    # and they learned something: the weights moved from the base model, and validation F1 is the same
    assert scores(one)["f1_positive"].max() > 0.5
    pd.testing.assert_frame_equal(scores(one), scores(two_processes), atol=1e-6)
    for part in ("train", "validation", "test"):  # the same split on every rank and in both runs
        assert (one / "splits" / f"{part}.csv").read_bytes() == (
            two_processes / "splits" / f"{part}.csv"
        ).read_bytes()
    record = json.loads((two_processes / "run.json").read_text())
    assert record["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert json.loads((one / "run.json").read_text())["distributed"] == {"world_size": 1, "backend": "none"}
    # rank 1 left nothing behind: the outputs folder holds the run and `latest` only
    outputs = two_processes.parent
    assert sorted(p.name for p in outputs.iterdir() if p.name != ".incomplete") == sorted(
        [two_processes.name, "latest"]
    )
    assert not any((outputs / ".incomplete").glob("*"))


def wait_for_first_epoch(proc: subprocess.Popen, outputs: Path) -> None:
    deadline = time.time() + 300
    while time.time() < deadline:
        works = list((outputs / ".incomplete").glob("*")) if (outputs / ".incomplete").exists() else []
        if works and (works[0] / "checkpoints").exists() and last_checkpoint(works[0] / "checkpoints"):
            return
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        time.sleep(0.02)
    raise AssertionError("no epoch checkpoint in 300 s")


def two_processes_after_first_epoch(data: Path, model: Path, out: Path, stderr: int) -> subprocess.Popen:
    """A 2-process run, returned once its first epoch checkpoint is complete."""
    proc = subprocess.Popen(
        command(data, model, out, "--nproc", "2"),
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    wait_for_first_epoch(proc, out)
    return proc


def test_interrupted_two_process_run_resumes(still_model, data, two_processes, tmp_path):
    out = tmp_path / "outputs"
    proc = two_processes_after_first_epoch(data, still_model, out, stderr=subprocess.STDOUT)
    proc.send_signal(signal.SIGTERM)  # to torchrun, which stops every rank
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output[-3000:]
    assert "RESUME=1 NPROC=2" in output
    assert not (out / "latest").exists()
    (work,) = (out / ".incomplete").glob("*")
    assert last_checkpoint(work / "checkpoints")
    # a resume with another number of processes is refused, naming the one it needs
    refused = run(command(data, still_model, out, "--resume"))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("error: ") and "NPROC=2" in refused.stderr
    resumed = run(command(data, still_model, out, "--resume", "--nproc", "2"))
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    final = (out / "latest").resolve()
    assert json.loads((final / "run.json").read_text())["resumed"] is True
    assert_same_model(final, two_processes)
    pd.testing.assert_frame_equal(scores(final), scores(two_processes), atol=1e-6)


def rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of a torchrun child with RANK=rank (read from /proc)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == launcher and f"RANK={rank}".encode() in env:
            return int(proc.name)
    return None


def test_a_rank_that_dies_is_one_line_and_publishes_nothing(still_model, data, tmp_path):
    out = tmp_path / "outputs"
    proc = two_processes_after_first_epoch(data, still_model, out, stderr=subprocess.PIPE)
    victim = rank_pid(proc.pid, 1)
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 2
    assert "error: training process rank 1 was killed by SIGKILL" in err
    assert "Traceback" not in err.split("error: training process rank 1")[1]
    assert not (out / "latest").exists()
    for work in (out / ".incomplete").glob("*"):  # kept only as a resumable checkpoint
        assert last_checkpoint(work / "checkpoints")


@pytest.mark.parametrize("nproc", ["0", "-1", "two", "1.5", str((os.cpu_count() or 1) + 1)])
def test_bad_nproc_is_one_line(still_model, data, tmp_path, nproc):
    done = run(command(data, still_model, tmp_path / "outputs", "--nproc", nproc))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"error: NPROC={nproc!r}") and "make train NPROC=" in done.stderr
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*.safetensors"))


def test_bad_torchrun_args_are_one_line(still_model, data, tmp_path):
    done = run(
        command(data, still_model, tmp_path / "outputs", "--nproc", "2", "--torchrun-args=--nnodes=x:y:z")
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: TORCHRUN_ARGS=")


def test_make_train_nproc_2_end_to_end(still_model, data, tmp_path):
    """As a user types it, with torchrun's options for one machine spelled out as for several."""
    out = tmp_path / "outputs"
    sets = " ".join(settings(still_model, out))
    done = subprocess.run(
        ["make", "--no-print-directory", "train", f"DATA={data}", f"SET={sets}", "NPROC=2"]
        + ["TORCHRUN_ARGS=--nnodes=1 --node-rank=0 --rdzv-backend=c10d --rdzv-endpoint=127.0.0.1:0"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "2 processes (gloo)" in done.stdout
    assert done.stdout.count("[quickfit] run saved to") == 1  # rank 0 alone speaks
    record = json.loads(((out / "latest") / "run.json").read_text())
    assert record["distributed"]["world_size"] == 2
    bad = subprocess.run(
        ["make", "--no-print-directory", "train", "NPROC=lots"], cwd=PROJECT, capture_output=True, text=True
    )
    assert (
        bad.returncode == 2 and bad.stderr.startswith("error: NPROC='lots'") and "Traceback" not in bad.stderr
    )


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_stop_signal_that_torch_s_agent_trips_over_is_still_an_interrupt(wrapped, monkeypatch):
    """torchrun's agent turns SIGTERM into SignalException; when the signal lands inside its metrics
    wrapper, that wrapper raises UnboundLocalError while handling it (seen in CI). Both are an interrupt
    (exit 130), never a traceback."""
    pytest.importorskip("torch.distributed")
    import torch.distributed.run as torch_run
    from torch.distributed.elastic.multiprocessing.api import SignalException

    from scripts.training import launch

    def stopped(parsed):
        try:
            raise SignalException("Process 1 got signal: 15", sigval=signal.SIGTERM)
        except SignalException:
            if not wrapped:
                raise
            raise UnboundLocalError("cannot access local variable 'start'")  # noqa: B904 (as torch does)

    monkeypatch.setattr(torch_run, "run", stopped)
    assert launch.torchrun("2", "", ["--data", "d.csv"]) == 130


def test_other_failures_of_torchrun_are_not_taken_for_an_interrupt(monkeypatch):
    pytest.importorskip("torch.distributed")
    import torch.distributed.run as torch_run

    from scripts.training import launch

    def broken(parsed):
        raise UnboundLocalError("a real bug")

    monkeypatch.setattr(torch_run, "run", broken)
    with pytest.raises(UnboundLocalError):
        launch.torchrun("2", "", ["--data", "d.csv"])
