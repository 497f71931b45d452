"""RESUME=1 and interrupts, the hostile cases: changed data, changed overrides, a planted pickle, an interrupt
before any checkpoint, a crash, and a stop signal while the finished run is being published."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from scripts import train
from scripts.common import runs
from scripts.common.errors import run_cli
from scripts.training import checkpoints, fit
from scripts.training.st.batching import LengthGroupedBatches
from scripts.training.st.patches import STOP
from tests.helpers import tiny_args, write_binary_csv


def interrupt_at_epoch(csv: Path, args: list[str], epoch: int, monkeypatch) -> int:
    """Train until `epoch` (0-based) starts, then stop as a SIGTERM would (the handler sets STOP)."""
    original = LengthGroupedBatches.__iter__

    def iterate(self):
        if self.epoch >= epoch:
            STOP.set()
        yield from original(self)

    with monkeypatch.context() as patch:
        patch.setattr(LengthGroupedBatches, "__iter__", iterate)
        return train.main(["--data", str(csv), "--set", *args])


@pytest.fixture
def interrupted(tiny_model, tmp_path, monkeypatch):
    """An interrupted run with epoch 1 checkpointed and scored, waiting in outputs/.incomplete/run."""
    csv = write_binary_csv(tmp_path / "b.csv", ham=200, spam=100)
    out = tmp_path / "outputs"
    code = interrupt_at_epoch(csv, tiny_args(tiny_model, out) + ["run_name=run"], 1, monkeypatch)
    assert code == 130
    work = out / runs.INCOMPLETE / "run"
    assert checkpoints.last_checkpoint(work / "checkpoints")[1] == 1
    return csv, out, work


def resume(out: Path, *extra: str, capsys=None) -> tuple[int, str]:
    code = run_cli(train.main, ["--resume", "--set", f"outputs_dir={out}", *extra])
    return code, capsys.readouterr().err.strip() if capsys else ""


def test_resume_refuses_a_data_file_that_changed(interrupted, capsys):
    csv, out, work = interrupted
    frame = pd.read_csv(csv)
    frame.iloc[::-1].to_csv(
        csv, index=False
    )  # the same rows, reordered: a redrawn split would leak test rows
    code, err = resume(out, capsys=capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "the data changed since run started" in err, err
    assert (work / "checkpoints").exists() and not (out / "latest").exists()


def test_resume_refuses_overrides_it_cannot_honour_and_accepts_safe_ones(interrupted, capsys):
    _, out, work = interrupted
    code, err = resume(out, "num_train_epochs=30", "learning_rate=0.1", capsys=capsys)
    assert (
        code == 2
        and "these overrides differ: num_train_epochs=30 (the run has 3)" in err
        and "learning_rate" in err
    )
    assert resume(out, "threads=1", "num_train_epochs=3")[0] == 0  # safe, and equal to the run's own
    assert (out / "latest").resolve().name == "run" and not work.exists()


def test_resume_never_unpickles_a_checkpoint_file(interrupted, tmp_path, capsys):
    import torch

    _, out, work = interrupted
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    checkpoint = checkpoints.last_checkpoint(work / "checkpoints")[0]
    torch.save(Payload(), checkpoint / "scheduler.pt")
    code, err = resume(out, capsys=capsys)
    assert code == 2 and "refused to unpickle" in err and len(err.splitlines()) == 1, err
    assert not marker.exists()


def test_interrupt_before_the_first_checkpoint_keeps_nothing(tiny_model, tmp_path, monkeypatch, capsys):
    csv = write_binary_csv(tmp_path / "b.csv", ham=200, spam=100)
    out = tmp_path / "outputs"
    assert interrupt_at_epoch(csv, tiny_args(tiny_model, out) + ["run_name=run"], 0, monkeypatch) == 130
    assert "before the first epoch was checkpointed: nothing was kept" in capsys.readouterr().out
    assert not list((out / runs.INCOMPLETE).iterdir())
    code, err = resume(out, capsys=capsys)
    assert code == 2 and "nothing to resume" in err


def test_a_crash_leaves_no_work_folder(tiny_model, tmp_path, monkeypatch):
    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=30)
    out = tmp_path / "outputs"

    def crashing(*args, **kwargs):
        raise RuntimeError("a library failed in the middle of training")

    monkeypatch.setattr(fit, "train", crashing)
    with pytest.raises(RuntimeError):
        train.main(["--data", str(csv), "--set", *tiny_args(tiny_model, out)])
    assert not list((out / runs.INCOMPLETE).iterdir()) and not (out / "latest").exists()


def test_a_stop_signal_while_publishing_waits_for_the_run_to_be_in_place(
    tiny_model, tmp_path, monkeypatch, capsys
):
    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=30)
    out = tmp_path / "outputs"
    original = runs.publish

    def signalled(work, outputs_dir):
        os.kill(os.getpid(), signal.SIGTERM)  # lands between the end of training and the publication
        return original(work, outputs_dir)

    monkeypatch.setattr(runs, "publish", signalled)
    assert train.main(["--data", str(csv), "--set", *tiny_args(tiny_model, out), "num_train_epochs=1"]) == 0
    final = (out / "latest").resolve()
    assert (final / "model" / "model.safetensors").exists() and not (final / "checkpoints").exists()
    assert not list((out / runs.INCOMPLETE).iterdir())
