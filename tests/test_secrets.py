"""Planted secrets never reach logs, outputs, cards, saved configs or pushed files."""

import subprocess
import sys
from pathlib import Path

import pytest

from scripts import push, train
from scripts.common.errors import UserError
from tests.helpers import tiny_args, write_binary_csv
from tests.hub_server import start_hub

pytestmark = (
    pytest.mark.slow
)  # subprocesses that import Simple Transformers: make test runs it, make test-fast not

PROJECT = Path(__file__).resolve().parent.parent
HF_SECRET = "hf_PlantedSecretToken0123456789abcdef"
KAGGLE_SECRET = "kaggle-planted-key-9f8e7d6c5b4a"


def test_secrets_stay_out_of_every_file_and_log(tiny_model, tmp_path, monkeypatch):
    server, state, endpoint = start_hub()
    state.write_token = HF_SECRET
    env = {
        "HF_TOKEN": HF_SECRET,
        "KAGGLE_USERNAME": "someone",
        "KAGGLE_KEY": KAGGLE_SECRET,
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(tmp_path / "hf_home"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    csv = write_binary_csv(tmp_path / "b.csv", 120, 60)
    out = tmp_path / "outputs"
    logs = []
    steps = [
        ["scripts.train", "--data", str(csv), "--set", *tiny_args(tiny_model, out), "num_train_epochs=1"],
        ["scripts.evaluate", "--run", str(out / "latest")],
        ["scripts.card", "--run", str(out / "latest")],
        ["scripts.push", "--repo", "tester/secret-check", "--run", str(out / "latest")],
    ]
    import os

    for step in steps:
        result = subprocess.run(
            [sys.executable, "-m", *step],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        logs.append(result.stdout + result.stderr)
    server.shutdown()
    produced = {str(p): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    produced.update({f"hub:{k}": v for k, v in state.repos["tester/secret-check"].files.items()})
    produced.update({f"log:{i}": log.encode() for i, log in enumerate(logs)})
    assert len(produced) > 20
    for name, content in produced.items():
        for secret in (HF_SECRET, KAGGLE_SECRET):
            assert secret.encode() not in content, f"{secret[:8]}... found in {name}"


def test_push_refuses_a_staged_file_with_a_token(tmp_path):
    (tmp_path / "notes.txt").write_text("my token is hf_" + "a" * 34)
    with pytest.raises(UserError, match="looks like a Hugging Face token"):
        push.scan_for_secrets(tmp_path, None)


def test_disk_check_refuses_when_checkpoints_would_not_fit(tmp_path, monkeypatch, tiny_model):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9, 1000))
    with pytest.raises(UserError, match="not enough disk for the checkpoints"):
        train.check_disk(tmp_path, str(tiny_model), 3)
