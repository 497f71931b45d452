"""Which folder a path belongs to (a run's files are written by quickfit alone), and the leftovers of
processes that were killed before they could clean up (kill -9 skips every clean-up)."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from scripts.common.runs import INCOMPLETE, LATEST, RECORD


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def sweep_leftovers(final: Path) -> None:
    """The `.<name>.incomplete-<pid>` and `.<name>.old-<pid>` folders beside `final` whose process is gone
    (a kill -9 skips every clean-up): removed at the next build, so they never pile up."""
    for stray in final.parent.glob(f".{glob.escape(final.name)}.*-*"):
        kind, _, pid = stray.name[len(final.name) + 2 :].rpartition("-")
        if kind in ("incomplete", "old") and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(stray, ignore_errors=True)


# Folders of quickfit's own under outputs/ that hold no run but must not be written into by hand either.
TOOL_FOLDERS = (INCOMPLETE, ".locks", "curves", "sweeps")


def owning_folder(path: Path, outputs: Path | None = None) -> Path | None:
    """The run (or quickfit folder) a path would write into, through any link: a folder holding run.json
    or a run's config.json and splits, anything under outputs/.incomplete, .locks, curves or sweeps; None
    when the path belongs to none."""
    target = path.resolve()
    for folder in target.parents:
        if (folder / RECORD).is_file() or (
            (folder / "config.json").is_file() and (folder / "splits").is_dir()
        ):
            return folder
    if outputs is not None:
        root = outputs.resolve()
        if target.is_relative_to(root) and target != root:
            first = target.relative_to(root).parts[0]
            if first in TOOL_FOLDERS or first == LATEST:
                return root / first
    return None
