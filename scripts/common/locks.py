"""One live process per run folder and per sweep. A lock is a file in outputs/.locks/ holding its owner's
PID, created atomically (O_EXCL); a lock whose process is gone is stale and taken over. Auto-named runs
started in the same second get distinct names; a finished run is never overwritten."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.common.errors import UserError


def lock_path(folder: Path) -> Path:
    """outputs/.locks/<kind>-<name>.lock: outside the folders that users and RESUME list."""
    return folder.parent.parent / ".locks" / f"{folder.parent.name.lstrip('.')}-{folder.name}.lock"


def owner(folder: Path) -> int | None:
    """The PID of the live process that holds the folder's lock, or None (no lock, or a stale one)."""
    try:
        pid = int(lock_path(folder).read_text().strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        return pid
    return pid


def _take(folder: Path) -> bool:
    """Create the lock for this process; False if a live process holds it."""
    lock = lock_path(folder)
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if owner(folder) is not None:  # a live process (this one included) holds it
                return False
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(handle, "w") as out:
            out.write(str(os.getpid()))
        return True
    return False


def _release(folder: Path) -> None:
    lock = lock_path(folder)
    try:
        if lock.read_text().strip() == str(os.getpid()):
            lock.unlink()
        lock.parent.rmdir()  # only when no other lock is held: nothing left behind
    except OSError:
        pass


@contextmanager
def held(folder: Path, what: str) -> Iterator[None]:
    """Hold `folder`'s lock for the block, or fail at once with one line naming the process that has it."""
    if not _take(folder):
        raise UserError(
            f"{what} is in use by process {owner(folder)} (a `make train` or `make sweep` still running); "
            "wait for it to finish or stop it, or choose another name"
        )
    try:
        yield
    finally:
        _release(folder)


@contextmanager
def run_claimed(outputs_dir: Path, incomplete: Path, name: str, auto: bool) -> Iterator[str]:
    """The run's name, locked for this process. An auto name taken by a finished run or a live process
    gets a suffix (_2, _3, ...); a name the user chose is refused when a finished run has it."""
    chosen = name
    for n in range(2, 1000):
        if (outputs_dir / chosen).exists():
            if not auto:
                raise UserError(
                    f"{outputs_dir / chosen} already exists: a finished run has that run_name; choose "
                    "another run_name (the finished run is kept)"
                )
        elif _take(incomplete / chosen):
            break
        elif not auto:
            raise UserError(
                f"run {chosen} is being trained by process {owner(incomplete / chosen)}; wait for it, "
                "or choose another run_name"
            )
        chosen = f"{name}_{n}"
    try:
        yield chosen
    finally:
        _release(incomplete / chosen)
