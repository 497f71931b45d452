"""make push against a local stand-in of the Hub (the real huggingface_hub client, HF_ENDPOINT on
127.0.0.1)."""

import json
import os
import re
import socket
import subprocess
import sys

import pytest

from scripts import evaluate, push
from tests.helpers import tiny_args, train_run, write_binary_csv, write_multilabel_csv
from tests.hub_server import start_hub

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOWED = {
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "quickfit.json",
    "README.md",
    "eval/metrics.json",
    "eval/confusion_matrix.png",
    "eval/roc_pr.png",
    "eval/per_class_f1.png",
    "eval/training_curve.png",
    "eval/thresholds.png",
    "eval/reliability.png",
}


@pytest.fixture(scope="module")
def runs_by_task(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("push")
    binary = train_run(write_binary_csv(root / "sms.csv"), tiny_args(tiny_model, root / "out_b"))
    multi = train_run(write_multilabel_csv(root / "ml.csv"), tiny_args(tiny_model, root / "out_m"))
    # max_seq_length 10 cuts most texts: truncation=auto keeps head and tail, and the card's snippet must too
    tuned = train_run(
        root / "sms.csv",
        tiny_args(tiny_model, root / "out_t"),
        "tune_binary_threshold=True",
        "max_seq_length=10",
        "truncation=auto",
        "long_texts=truncate",  # this run checks the cut (fit_text); windows: test_long_texts.py
    )
    for run in (binary, multi, tuned):
        evaluate.evaluate(run, threads=1)
    return {"binary": binary, "multilabel": multi, "binary_tuned": tuned}


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server, state, endpoint = start_hub()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_TOKEN", state.write_token)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # no stored login
    yield state, endpoint
    server.shutdown()


@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_push_sends_only_the_allow_list_and_verifies(runs_by_task, hub, task, capsys):
    state, _ = hub
    run = runs_by_task[task]
    code = push.main(["--repo", "tester/quick-model", "--run", str(run)])
    assert code == 0
    repo = state.repos["tester/quick-model"]
    assert set(repo.files) <= ALLOWED
    assert {"config.json", "model.safetensors", "README.md", "quickfit.json", "eval/metrics.json"} <= set(
        repo.files
    )
    for name, content in repo.files.items():
        assert state.write_token.encode() not in content, name
        assert b"training_args" not in name.encode() and not name.endswith((".bin", ".pt"))
    for body in state.raw_bodies:  # nor in anything sent, beyond the Authorization header
        assert state.write_token.encode() not in body
    assert repo.commits[0]["summary"] == f"quickfit: upload run {run.name}"
    out = capsys.readouterr().out
    assert "verified" in out and state.write_token not in out
    # a second push of the same run changes nothing
    assert push.main(["--repo", "tester/quick-model", "--run", str(run)]) == 0
    assert len(repo.commits) == 1


@pytest.mark.slow
def test_card_metadata_parses_and_pipeline_snippet_runs(runs_by_task, hub):
    from huggingface_hub import ModelCard

    state, endpoint = hub
    run = runs_by_task["binary"]
    assert push.main(["--repo", "tester/sms", "--run", str(run)]) == 0
    card_text = state.repos["tester/sms"].files["README.md"].decode()
    card = ModelCard(card_text)
    assert card.data.pipeline_tag == "text-classification" and card.data.library_name == "transformers"
    assert card.data.eval_results and card.data.eval_results[0].dataset_split == "test"
    assert (
        "{" + "{" not in card_text
        and "TODO" not in card_text
        and "None" not in card.text.split("## Reproduce")[0]
    )
    snippet = re.search(r"```python\n(.*?)```", card_text, re.S).group(1)
    env = {
        **os.environ,
        "HF_ENDPOINT": endpoint,
        "HF_TOKEN": state.write_token,
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "'label': 'spam'" in result.stdout or "'label': 'ham'" in result.stdout


@pytest.mark.slow
def test_multilabel_card_snippet_applies_thresholds(runs_by_task, hub):
    state, endpoint = hub
    assert push.main(["--repo", "tester/ml", "--run", str(runs_by_task["multilabel"])]) == 0
    card_text = state.repos["tester/ml"].files["README.md"].decode()
    assert "threshold (tuned on validation)" in card_text
    snippet = re.search(r"```python\n(.*?)```", card_text, re.S).group(1)
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": state.write_token}
    result = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("[")


@pytest.mark.slow
def test_binary_card_snippet_applies_the_tuned_threshold(runs_by_task, hub, tmp_path):
    from scripts.model.inference import load_predictor

    state, endpoint = hub
    run = runs_by_task["binary_tuned"]
    predictor = load_predictor(run / "model", 1)
    assert len(predictor.thresholds) == 1 and predictor.meta["thresholds_tuned_on"] == "validation"
    assert push.main(["--repo", "tester/tuned", "--run", str(run)]) == 0
    card_text = state.repos["tester/tuned"].files["README.md"].decode()
    assert f"| spam | {predictor.thresholds[0]:.2f} |" in card_text
    snippet = re.search(r"```python\n(.*?)```", card_text, re.S).group(1)
    assert predictor.meta["truncation"] == "head+tail" and "def fit_text(" in snippet
    text = re.search(r'scores = classifier\(\[fit_text\("(.*?)", classifier.tokenizer\)\],', snippet).group(1)
    assert predictor.fit_texts([text]) != [text]  # the example is cut: the snippet's cut decides too
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_TOKEN": state.write_token}
    result = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, env=env, cwd=PROJECT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # the snippet decides exactly as quickfit does, threshold included
    assert result.stdout.strip() == predictor.decide(predictor.predict_proba([text]))[0]
    files = state.repos["tester/tuned"].files
    for cut, expected in ((0.0, "spam"), (2.0, "ham")):  # the threshold really drives the snippet's answer
        meta = json.loads(files["quickfit.json"])
        files["quickfit.json"] = json.dumps({**meta, "thresholds": [cut]}).encode()
        fresh = {**env, "HF_HUB_CACHE": str(tmp_path / f"cache{cut}")}
        result = subprocess.run(
            [sys.executable, "-c", snippet],
            capture_output=True,
            text=True,
            env=fresh,
            cwd=PROJECT,
            timeout=300,
        )
        assert result.returncode == 0 and result.stdout.strip() == expected, result.stderr[-2000:]


def test_dry_run_needs_no_network_and_no_token(runs_by_task, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    assert push.main(["--repo", "me/sms-spam-minilm", "--run", str(runs_by_task["binary"]), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would push" in out and "model.safetensors" in out and "optimizer" not in out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "case, needle",
    [
        ("no_token", "no Hugging Face token"),
        ("bad_token", "rejected the token (401)"),
        ("read_only_token", "may not write to tester/x (403)"),
        ("network_down", "could not reach the Hub"),
        ("bad_repo_id", "is not a Hub repo id"),
    ],
)
def test_push_errors_are_one_line(runs_by_task, hub, monkeypatch, capsys, case, needle):
    from scripts.common.errors import run_cli

    state, _ = hub
    repo = "tester/x"
    if case == "no_token":
        monkeypatch.delenv("HF_TOKEN")
    elif case == "bad_token":
        monkeypatch.setenv("HF_TOKEN", "hf_wrongwrongwrongwrongwrong12345")
    elif case == "read_only_token":
        monkeypatch.setenv("HF_TOKEN", state.read_token)
    elif case == "network_down":
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    else:
        repo = "not a repo"
    code = run_cli(push.main, ["--repo", repo, "--run", str(runs_by_task["binary"])])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "hf_wrong" not in err and state.read_token not in err
