"""One live process per run folder and per sweep. A lock is a file in outputs/.locks/ held with an OS-level
lock (fcntl.flock): taking it is atomic, and the kernel releases it when its process ends however it ends
(kill -9 included), so there is no stale lock to take over and a recycled PID never looks like an owner.
The file also holds the owner's PID and start time, for the messages. Auto-named runs started in the same
second get distinct names; a finished run is never overwritten."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.common.errors import UserError

# The open descriptors of the locks this process holds, by lock file: the lock lives as long as its fd.
_HELD: dict[Path, int] = {}


def lock_path(folder: Path) -> Path:
    """outputs/.locks/<kind>-<name>.lock: outside the folders that users and RESUME list."""
    return folder.parent.parent / ".locks" / f"{folder.parent.name.lstrip('.')}-{folder.name}.lock"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _stamp() -> str:
    return f"{os.getpid()} {_start_time(os.getpid()) or ''}".strip()


def owner(folder: Path) -> int | None:
    """The PID of the live process that holds the folder's lock, or None (no lock, or nobody holds it)."""
    lock = lock_path(folder)
    if lock in _HELD:
        return os.getpid()
    try:
        handle = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: read who holds it
            words = os.read(handle, 100).decode(errors="replace").split()
            return int(words[0]) if words and words[0].isdigit() else -1
        return None  # a file nobody holds (its process ended): not an owner
    finally:
        os.close(handle)


def _take(folder: Path) -> bool:
    """Take the folder's lock for this process; False if another live process holds it. Atomic: flock on
    the file, then a check that the file is still the one at the path (a releasing owner unlinks it)."""
    lock = lock_path(folder)
    if lock in _HELD:
        return False
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(10):
        handle = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return False
        try:
            same = os.fstat(handle).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # unlinked by its last owner between our open and our lock: take the new file
            os.close(handle)
            continue
        os.ftruncate(handle, 0)
        os.write(handle, _stamp().encode())
        _HELD[lock] = handle
        return True
    return False


def _release(folder: Path) -> None:
    lock = lock_path(folder)
    handle = _HELD.pop(lock, None)
    if handle is None:
        return
    try:
        lock.unlink(missing_ok=True)  # unlinked while still locked: a waiter re-checks the inode
        os.close(handle)
        lock.parent.rmdir()  # only when no other lock is left: nothing behind
    except OSError:
        pass


def _busy(folder: Path, what: str) -> UserError:
    pid = owner(folder)
    return UserError(
        f"{what} is in use by process {pid} (it holds {lock_path(folder)}; a `make train` or `make sweep` "
        "still running): wait for it to finish or stop it, or choose another name"
    )


@contextmanager
def held(folder: Path, what: str) -> Iterator[None]:
    """Hold `folder`'s lock for the block, or fail at once with one line naming the process that has it."""
    if not _take(folder):
        raise _busy(folder, what)
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
            raise _busy(incomplete / chosen, f"run {chosen}")
        chosen = f"{name}_{n}"
    try:
        yield chosen
    finally:
        _release(incomplete / chosen)
