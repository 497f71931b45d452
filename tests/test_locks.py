"""One live process per run folder and sweep; auto names never collide; a resumable checkpoint is never
deleted by a new run; RESUME=1 never adopts a run that is still training."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scripts import train
from scripts.common import locks, runs, settings
from scripts.common.errors import UserError, run_cli
from tests.helpers import tiny_args, write_binary_csv


@pytest.fixture
def other_process():
    """A live process that is not this one (its PID goes into a lock file)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_a_lock_held_by_a_live_process_refuses_and_a_stale_one_is_taken_over(tmp_path, other_process):
    folder = tmp_path / "runs" / "run"
    locks.lock_path(folder).parent.mkdir(parents=True)
    locks.lock_path(folder).write_text(str(other_process))
    with pytest.raises(UserError, match=f"in use by process {other_process}"), locks.held(folder, "run x"):
        pass
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    locks.lock_path(folder).write_text(dead.stdout.strip())  # that process has exited: a stale lock
    with locks.held(folder, "run x"):
        assert locks.lock_path(folder).read_text() == str(os.getpid())
    assert not locks.lock_path(folder).exists()


def test_auto_names_in_the_same_second_get_distinct_folders(tmp_path, other_process):
    out, incomplete = tmp_path / "out", tmp_path / "out" / runs.INCOMPLETE
    (out / "data_20260101_000000").mkdir(parents=True)  # a finished run has the name
    with locks.run_claimed(out, incomplete, "data_20260101_000000", auto=True) as first:
        locks.lock_path(incomplete / "data_20260101_000000_3").write_text(str(other_process))  # live, busy
        with locks.run_claimed(out, incomplete, "data_20260101_000000", auto=True) as second:
            assert (first, second) == ("data_20260101_000000_2", "data_20260101_000000_4")
    finished = pytest.raises(UserError, match="already exists: a finished run has that run_name")
    with finished, locks.run_claimed(out, incomplete, "data_20260101_000000", auto=False):
        pass


def test_a_new_run_never_deletes_an_interrupted_runs_checkpoint(tiny_model, tmp_path, capsys):
    out = tmp_path / "out"
    checkpoint = out / runs.INCOMPLETE / "mine" / "checkpoints" / "checkpoint-4-epoch-1"
    checkpoint.mkdir(parents=True)
    (checkpoint / "model.safetensors").write_bytes(b"kept")
    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=30)
    args = ["--data", str(csv), "--set", *tiny_args(tiny_model, out), "run_name=mine"]
    assert run_cli(train.main, args) == 2
    assert "continue it with `make train RESUME=1`" in capsys.readouterr().err
    assert (checkpoint / "model.safetensors").read_bytes() == b"kept"


def test_resume_never_adopts_a_run_that_is_still_training(tmp_path, other_process):
    from scripts.common import resume

    work = tmp_path / runs.INCOMPLETE / "busy"
    (work / "checkpoints").mkdir(parents=True)
    (work / "config.json").write_text("{}")
    locks.lock_path(work).parent.mkdir(parents=True, exist_ok=True)
    locks.lock_path(work).write_text(str(other_process))
    with pytest.raises(UserError, match=f"busy is still training in process {other_process}"):
        resume.find(tmp_path)


def test_a_run_name_with_a_trailing_newline_is_refused():
    with pytest.raises(UserError, match="run_name="):
        settings.resolve({"run_name": "mine\n"})
