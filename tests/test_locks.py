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
from tests.conftest import PROJECT
from tests.helpers import tiny_args, write_binary_csv


@pytest.fixture
def other_process():
    """A live process that is not this one (a PID that a stale lock file may name)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


HOLD = (
    "import sys, time; from pathlib import Path; from scripts.common import locks; "
    "print(locks._take(Path(sys.argv[1])), flush=True); time.sleep(60)"
)


@pytest.fixture
def holder():
    """Start a process that takes a folder's lock and keeps it until killed; yields (start, processes)."""
    started = []

    def start(folder):
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True, cwd=PROJECT
        )
        assert proc.stdout.readline().strip() == "True"
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_lock_held_by_a_live_process_refuses_and_is_freed_when_it_dies(tmp_path, holder):
    folder = tmp_path / "runs" / "run"
    proc = holder(folder)
    busy = pytest.raises(UserError, match=f"in use by process {proc.pid} .*{locks.lock_path(folder).name}")
    with busy, locks.held(folder, "run x"):
        pass
    proc.kill()  # kill -9: no clean-up ran, the kernel released the lock
    proc.wait()
    assert locks.lock_path(folder).exists() and locks.owner(folder) is None
    with locks.held(folder, "run x"):
        assert locks.owner(folder) == os.getpid()
        assert locks.lock_path(folder).read_text().split()[0] == str(os.getpid())
    assert not locks.lock_path(folder).exists()


def test_a_lock_file_naming_an_unrelated_live_pid_is_not_an_owner(tmp_path, other_process):
    """PID reuse (round 4, lock-08): a lock file left by a killed run names a PID that now belongs to another
    process; only a process holding the OS lock owns it, so the run is not told to wait forever."""
    folder = tmp_path / "runs" / "stale1"
    locks.lock_path(folder).parent.mkdir(parents=True)
    locks.lock_path(folder).write_text(str(other_process))
    assert locks.owner(folder) is None
    with locks.held(folder, "run stale1"):
        assert locks.owner(folder) == os.getpid()


RACE = """
import multiprocessing as mp, sys, time
from pathlib import Path
from scripts.common import locks
folder = Path(sys.argv[1]) / ".incomplete" / "race"
def worker(barrier, queue):
    barrier.wait()
    queue.put(locks._take(folder))
    time.sleep(0.5)
if __name__ == "__main__":
    owners = []
    for _ in range(10):
        lock = locks.lock_path(folder)
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text("999999")  # a stale file: no such process holds it
        barrier, queue = mp.Barrier(6), mp.Queue()
        procs = [mp.Process(target=worker, args=(barrier, queue)) for _ in range(6)]
        [p.start() for p in procs]
        owners.append(sum(queue.get() for _ in procs))
        [p.join() for p in procs]
    print(owners)
"""


def test_six_processes_taking_one_stale_lock_at_once_make_one_owner(tmp_path):
    """Round 4, lock-09: taking a stale lock is atomic (two owners in 16 of 30 trials before)."""
    out = subprocess.run(
        [sys.executable, "-c", RACE, str(tmp_path)], capture_output=True, text=True, cwd=PROJECT, timeout=120
    )
    assert out.stdout.strip() == str([1] * 10), out.stderr


def test_auto_names_in_the_same_second_get_distinct_folders(tmp_path, holder):
    out, incomplete = tmp_path / "out", tmp_path / "out" / runs.INCOMPLETE
    (out / "data_20260101_000000").mkdir(parents=True)  # a finished run has the name
    with locks.run_claimed(out, incomplete, "data_20260101_000000", auto=True) as first:
        holder(incomplete / "data_20260101_000000_3")  # live, busy
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


def test_resume_never_adopts_a_run_that_is_still_training(tmp_path, holder):
    from scripts.common import resume

    work = tmp_path / runs.INCOMPLETE / "busy"
    (work / "checkpoints").mkdir(parents=True)
    (work / "config.json").write_text("{}")
    proc = holder(work)
    with pytest.raises(UserError, match=f"busy is still training in process {proc.pid}"):
        resume.find(tmp_path)


def test_a_run_name_with_a_trailing_newline_is_refused():
    with pytest.raises(UserError, match="run_name="):
        settings.resolve({"run_name": "mine\n"})
