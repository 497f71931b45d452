"""make export and the ONNX Runtime path: parity is refused when broken, predict on ONNX imports no torch,
the card's ONNX snippet runs against the pushed files (every architecture and task: test_architectures)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scripts import export, push
from scripts.common.errors import UserError, run_cli
from scripts.model import onnx_export
from tests.helpers import tiny_args, train_run, write_binary_csv, write_multilabel_csv
from tests.hub_server import start_hub

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    run = train_run(write_binary_csv(root / "b.csv", 150, 75), tiny_args(tiny_model, root / "out"))
    assert run_cli(export.main, ["--run", str(run), "--quantize"]) == 0
    return run


def test_export_writes_a_self_contained_folder(exported):
    names = {p.name for p in (exported / "onnx").iterdir()}
    assert {"model.onnx", "tokenizer.json", "config.json", "quickfit.json", "parity.json"} <= names
    assert not [p for p in exported.iterdir() if ".incomplete" in p.name]


@pytest.mark.slow
def test_the_onnx_path_imports_no_torch_and_gives_the_torch_labels(exported):
    probe = (
        "import sys\n"
        "from scripts import predict\n"
        "from scripts.common.errors import run_cli\n"
        f"args = ['--run', {str(exported)!r}, 'free cash prize now', 'see you at dinner']\n"
        "code = run_cli(predict.main, args)\n"
        "heavy = [m for m in ('torch', 'transformers', 'simpletransformers') if m in sys.modules]\n"
        "print('RESULT', code, heavy)"
    )
    onnx = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert "RESULT 0 []" in onnx.stdout, onnx.stdout + onnx.stderr
    torch = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.predict",
            "--run",
            str(exported),
            "--backend",
            "torch",
            "free cash prize now",
            "see you at dinner",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    labels = [line.split("\t")[0] for line in onnx.stdout.splitlines() if "\t" in line]
    assert (
        labels == [line.split("\t")[0] for line in torch.stdout.splitlines() if "\t" in line]
        and len(labels) == 2
    )


def test_a_broken_export_is_refused_and_the_last_one_kept(exported, monkeypatch):
    before = (exported / "onnx" / "model.onnx").read_bytes()
    real = onnx_export.load_onnx_predictor

    def drifting(*args, **kwargs):
        predictor = real(*args, **kwargs)
        original = predictor.predict_logits
        predictor.predict_logits = lambda texts, batch_size=64: original(texts, batch_size) * np.float32(3)
        return predictor

    monkeypatch.setattr(onnx_export, "load_onnx_predictor", drifting)
    with pytest.raises(UserError, match="does not reproduce the model"):
        onnx_export.export_run(exported, threads=1)
    assert (exported / "onnx" / "model.onnx").read_bytes() == before


def test_an_unfaithful_int8_copy_is_not_written(tiny_model, tmp_path, monkeypatch, capsys):
    run = train_run(write_multilabel_csv(tmp_path / "m.csv", 120), tiny_args(tiny_model, tmp_path / "o"))
    monkeypatch.setattr(onnx_export, "INT8_AGREEMENT", 1.01)  # a bar no copy can reach
    parity = onnx_export.export_run(run, with_int8=True, threads=1)
    assert parity["int8"]["kept"] is False and not (run / "onnx" / "model_quantized.onnx").exists()
    assert "ONNX int8 not written" in capsys.readouterr().out


def test_backend_onnx_without_an_export_is_one_line(binary_run, tmp_path, capsys):
    from scripts import predict

    assert run_cli(predict.main, ["--run", str(binary_run), "--backend", "onnx", "some text"]) == 2
    assert "run `make export` first" in capsys.readouterr().err
    assert run_cli(predict.main, ["--run", str(binary_run), "--backend", "tensorrt", "x"]) == 2


@pytest.mark.slow
def test_the_cards_onnx_snippet_runs_against_the_pushed_files(exported, monkeypatch, tmp_path):
    server, state, endpoint = start_hub()
    try:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_TOKEN", state.write_token)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        pushed = push.push(exported, "tester/onnx", verify_rows=16)
        assert pushed["verify"]["onnx"]["identical_labels"] == pushed["verify"]["rows"]
        files = state.repos["tester/onnx"].files
        assert {"onnx/model.onnx", "onnx/model_quantized.onnx"} <= set(files)
        card = files["README.md"].decode()
        snippet = re.search(r"With ONNX Runtime.*?```python\n(.*?)```", card, re.S).group(1)
        env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": state.write_token}
        result = subprocess.run(
            [sys.executable, "-c", snippet], capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300
        )
        assert result.returncode == 0, result.stderr[-2000:]
        printed = ast.literal_eval(result.stdout.strip().splitlines()[-1])  # the labels with their scores
        example = re.search(r'tokenizer.encode\("([^"]*)"\)', snippet).group(1)
        from scripts.model.inference import load_predictor

        predictor = load_predictor(exported / "model", threads=1)
        expected = dict(zip(predictor.labels, predictor.predict_proba([example])[0].tolist()))
        assert {row["label"] for row in printed} == set(expected)
        for row in printed:  # the snippet's probabilities are predict's, label by label
            assert abs(row["score"] - expected[row["label"]]) <= 2e-4
    finally:
        server.shutdown()


def test_the_app_runs_on_onnx_without_attributions(exported):
    from scripts import app
    from scripts.model.onnx_predictor import OnnxPredictor, load_onnx_predictor

    classify = app.classifier(load_onnx_predictor(exported / "onnx", threads=1))
    probs, decision, highlights = classify("free cash prize now")
    assert abs(sum(probs.values()) - 1) < 1e-5 and decision in probs and highlights == []
    demo = app.build_app(exported, threads=1)  # BACKEND=auto: the run has an export
    assert demo is not None
    from scripts.predict import choose_predictor

    assert isinstance(choose_predictor(exported, "auto", False, 1), OnnxPredictor)
