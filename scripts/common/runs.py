"""Run folders: built under outputs/.incomplete/, renamed into place only on success.

`outputs/latest` is a symlink that moves only when a run is complete, so a failed or interrupted
run never replaces the last good one. run.json is the record every later stage reads.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scripts.common.errors import UserError, exception_chain

INCOMPLETE = ".incomplete"
# Every way a write to a user-chosen place fails that the user can fix (a full disk, a read-only or
# virtual file system such as /proc or /sys, permissions, a missing or wrong kind of folder).
WRITE_ERRORS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EFBIG,
    errno.EINVAL,
}
LATEST = "latest"
RECORD = "run.json"
SHIPPED_PROBE = "frozen probe"  # run.json model_selection.shipped: k-fold shipped the probe, no fine-tune
# What every later stage reads from a finished run.
RUN_PARTS = (
    "model/model.safetensors",
    "model/config.json",
    "model/quickfit.json",
    "config.json",
    "splits/train.csv",
    "splits/validation.csv",
    "splits/test.csv",
)


def outputs_dir(cfg: dict[str, Any]) -> Path:
    """The configured outputs folder (relative paths are relative to the project)."""
    from scripts.data.sources import PROJECT_ROOT

    path = Path(cfg["outputs_dir"])
    return path if path.is_absolute() else PROJECT_ROOT / path


def folder_name_from(dataset: str) -> str:
    """A default folder name from the dataset (sms_spam, emotion, train ...), made a plain folder name."""
    stem = Path(dataset.removeprefix("hf:")).stem
    return re.sub(r"[^\w.\-+()]+", "_", stem).strip("._ ") or "sweep"


def new_run_name(dataset: str, requested: str = "auto") -> str:
    if requested != "auto":
        if "/" in requested or requested.startswith(".") or requested == LATEST:
            raise UserError(f"run_name={requested!r}: use a plain folder name without '/' or a leading dot")
        return requested
    stem = Path(dataset).stem if ("/" in dataset or "." in dataset) else dataset
    return f"{stem}_{time.strftime('%Y%m%d_%H%M%S')}"


def start(outputs_dir: Path, name: str) -> Path:
    """A fresh work folder for a run under outputs/.incomplete/."""
    work = outputs_dir / INCOMPLETE / name
    if any(work.glob("checkpoints/checkpoint-*-epoch-*")):
        raise UserError(
            f"{work} holds an interrupted run with an epoch checkpoint: continue it with `make train "
            "RESUME=1`, or choose another run_name, or delete that folder to start over"
        )
    if work.exists():  # interrupted before its first checkpoint: nothing to continue
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def check_writable(outputs_dir: Path) -> None:
    """outputs_dir exists (or can be made) and takes files: one line now, not a traceback after training."""
    try:
        outputs_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=outputs_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UserError(
            f"outputs_dir={str(outputs_dir)!r} cannot be written ({exc.strerror or exc}); "
            "set outputs_dir to a writable folder"
        ) from exc


@contextmanager
def workspace(
    outputs_dir: Path,
    name: str,
    existing: Path | None = None,
    resumable: Callable[[Path], bool] = lambda work: False,
) -> Iterator[Path]:
    """A run's work folder under outputs/.incomplete/, removed on any failure: nothing half-written is
    left behind. Kept only where it can be continued: an interrupt after a complete epoch checkpoint,
    or a resumed run (`existing`), whose checkpoint stays resumable. The interrupt learns which."""
    work = existing or start(outputs_dir, name)
    try:
        yield work
    except KeyboardInterrupt as exc:
        exc.resumable = existing is not None or resumable(work)  # type: ignore[attr-defined]
        if not exc.resumable:  # type: ignore[attr-defined]
            shutil.rmtree(work, ignore_errors=True)
        raise
    except BaseException as exc:
        full = isinstance(exc, Exception) and disk_full(exc, work)  # before the removal frees space
        if existing is None:
            shutil.rmtree(work, ignore_errors=True)
        if full:
            raise UserError(
                f"the disk holding {outputs_dir} filled up while {name} was being written; nothing was "
                "published and outputs/latest is unchanged. Free space (or set outputs_dir elsewhere) and "
                + ("continue with RESUME=1" if existing is not None else "train again")
            ) from exc
        raise


LOW_SPACE = 64 * 2**20  # bytes: below this after a failed write, the disk was full
FULL_DISK_WORDS = ("no space left", "os error 28", "disk quota exceeded")


def disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether a write failed for want of space, however the writing library reports it: an OSError's
    errno, safetensors' message, or torch's zip writer (which only says "unexpected pos") on a full disk."""
    for cause in exception_chain(exc):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(word in str(cause).lower() for word in FULL_DISK_WORDS):
            return True
    if isinstance(exc, RuntimeError) and "inline_container" in str(exc):
        try:
            return shutil.disk_usage(folder).free < LOW_SPACE
        except OSError:
            return False
    return False


@contextmanager
def built_aside(final: Path) -> Iterator[Path]:
    """A folder built beside `final` and swapped in only when complete: an interrupt, a full disk or an
    error leaves the previous `final` as it was, never a mix of old and new files."""
    if final.parent.is_dir():
        from scripts.common.ownership import sweep_leftovers

        sweep_leftovers(final)
    work = final.with_name(f".{final.name}.incomplete-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.mkdir(parents=True)
        yield work
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        if final.exists():
            os.replace(final, old)
        os.replace(work, final)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        if exc.errno not in WRITE_ERRORS:
            raise
        raise UserError(
            f"could not write {final} ({exc.strerror or exc}); free space or fix permissions and run "
            "again (the previous one is unchanged)"
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def rank_scratch() -> Iterator[Path]:
    """The work folder of a training rank other than 0: Simple Transformers' paths point here, rank 0
    writes everything that is kept, and this folder is removed when the rank finishes or fails."""
    with tempfile.TemporaryDirectory(prefix="quickfit-rank-") as scratch:
        yield Path(scratch)


def publish(work: Path, outputs_dir: Path) -> Path:
    """Rename the finished work folder into outputs/ and point `latest` at it, atomically."""
    final = outputs_dir / work.name
    if final.exists():
        raise UserError(f"{final} already exists; choose another run_name")
    os.replace(work, final)
    link = outputs_dir / LATEST
    tmp_link = outputs_dir / f".{LATEST}.tmp"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(final.name)
    os.replace(tmp_link, link)
    return final


def find(outputs_dir: Path, run: str | None = None) -> Path:
    """A run folder by name or path; default the latest successful run."""
    candidate = Path(run) if run else outputs_dir / LATEST
    if run and not candidate.exists():
        candidate = outputs_dir / run
    if not (candidate / RECORD).exists():
        if run:
            raise UserError(
                f"run {run!r} not found (no {RECORD} in it); runs are folders under {outputs_dir}/, "
                "e.g. RUN=outputs/latest"
            )
        raise UserError(f"no finished run in {outputs_dir}/ yet; run `make train` first")
    missing = [part for part in RUN_PARTS if not (candidate / part).exists()]
    if missing:
        raise UserError(
            f"run {candidate.name} is incomplete (no {', '.join(missing)}): it was damaged or copied in "
            "part; restore it or train again"
        )
    return candidate.resolve()


def split_path(run_dir: Path, part: str) -> Path:
    """Where a run keeps one split (train, validation, test): the exact rows every later stage reads."""
    return run_dir / "splits" / f"{part}.csv"


def model_dir(run_dir: Path) -> Path:
    return run_dir / "model"


def saved_config(run_dir: Path) -> dict[str, Any]:
    """The config the run was trained with; later stages read this, never today's config.py."""
    return read_json(run_dir / "config.json")["flat"]


def threads_here(run_dir: Path) -> Any:
    """CPU threads for a later stage (predict, eval, export, the app) on this machine: what the user asked for
    (`auto`: this machine's cores), not the count training resolved on its own machine, which oversubscribes
    a smaller one (a 16-core training box, a 2-core server) and idles a larger one."""
    return read_json(run_dir / "config.json").get("requested", {}).get("threads", "auto")


def find_from_cli(run: str | None) -> tuple[Path, dict[str, Any]]:
    """The `--run` of every later entry point: the run folder (outputs/latest by default) and its config."""
    from scripts.common import settings

    run_dir = find(outputs_dir(settings.resolve()), run)
    return run_dir, saved_config(run_dir)


def write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_record(run_dir: Path) -> dict[str, Any]:
    return read_json(run_dir / RECORD)


def read_json(path: Path) -> Any:
    """A run folder's JSON file; a missing or damaged one is one line naming it, never a traceback."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"{path} is missing; restore it or train again") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is damaged (not valid JSON: {exc}); restore it or train again") from exc


TEST_EVAL = "eval"  # the run's own test split: what the card, push and compare read


def eval_dir(run_dir: Path, data_path: str | None = None) -> Path:
    """Where `make eval` writes: eval/ for the run's test split, eval-<file>-<hash>/ for any other labelled
    file, so another file's scores can never stand in the card as the held-out test score."""
    if not data_path:
        return run_dir / TEST_EVAL
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(str(data_path)).stem).strip("-.")[:40] or "data"
    return run_dir / f"eval-{stem}-{hashlib.sha256(str(data_path).encode()).hexdigest()[:8]}"


def texts_digest(texts: list[str]) -> str:
    """The fingerprint metrics.json keeps of the rows it scored."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def test_metrics(run_dir: Path) -> dict[str, Any] | None:
    """eval/metrics.json if it scores exactly this run's test split; None if there is none (or it scores
    other rows, e.g. written by an older version): never another file's scores as the test score."""
    path = run_dir / TEST_EVAL / "metrics.json"
    if not path.exists():
        return None
    report = read_json(path)
    import pandas as pd  # the later stages that call this read tables anyway

    texts = pd.read_csv(split_path(run_dir, "test"), dtype=str, keep_default_na=False)["text"].tolist()
    scored = report.get("data") if isinstance(report, dict) else None
    if not isinstance(scored, dict) or scored.get("sha256") != texts_digest(texts):
        return None
    return report
