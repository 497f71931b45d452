"""What a model folder carries beside its weights, checked on every load: quickfit.json (task, labels, how a
text is cut, temperature, thresholds) and an export's parity.json (what the export was checked against,
and a fingerprint of the weights it was exported from). A damaged or foreign file is one line naming the
file and the field, never a traceback and never a silent wrong prediction."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.common.errors import UserError
from scripts.model.truncation import MODES as TRUNCATIONS

# The files whose bytes decide what a model predicts: the weights, the architecture and label map, and
# quickfit's decision rule (temperature, thresholds).
FINGERPRINTED = ("model.safetensors", "config.json", "quickfit.json")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(value: Any, n: int | None = None, low: float = -math.inf, high: float = math.inf) -> bool:
    return (
        isinstance(value, list)
        and (n is None or len(value) == n)
        and all(_number(v) and low <= v <= high for v in value)
    )


def damaged(
    path: Path, field: str, want: str, fix: str = "restore it, or train (or export) again"
) -> UserError:
    return UserError(f"{path} is damaged: {field!r} {want}; {fix}")


def validate_meta(meta: Any, path: Path, tasks: tuple[str, ...] | None = None) -> dict[str, Any]:
    """quickfit.json, every field checked against the others (labels, task, thresholds, temperature)."""
    from scripts.common.tasks import TASKS

    tasks = tasks or tuple(TASKS)
    if not isinstance(meta, dict):
        raise UserError(
            f"{path} is damaged: it holds a JSON {type(meta).__name__}, not an object; restore it"
        )
    task = meta.get("task")
    if task not in tasks:
        raise damaged(path, "task", f"must be one of {', '.join(tasks)} (it is {task!r})")
    labels = meta.get("labels")
    if not (
        isinstance(labels, list)
        and labels
        and all(isinstance(n, str) for n in labels)
        and len(set(labels)) == len(labels)
    ):
        raise damaged(path, "labels", "must be a non-empty list of distinct names")
    n = len(labels)
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "max_seq_length": (
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2,
            "a whole number >= 2",
        ),
        "truncation": (lambda v: v in TRUNCATIONS, f"one of {', '.join(TRUNCATIONS)}"),
        "long_texts": (lambda v: v in ("truncate", "chunks"), "truncate or chunks"),
        "positive_label": (lambda v: v is None or v in labels, "null or one of the labels"),
        "model_type": (lambda v: v is None or isinstance(v, str), "a string"),
        "thresholds_tuned_on": (lambda v: v is None or isinstance(v, str), "null or a string"),
    }
    for field, (ok, want) in checks.items():
        if field in meta and not ok(meta[field]):
            raise damaged(path, field, f"must be {want} (it is {meta[field]!r})")
    if "max_seq_length" not in meta:
        raise damaged(path, "max_seq_length", "is missing")
    if meta.get("long_texts") == "chunks":
        overlap = meta.get("window_overlap")
        if not (
            isinstance(overlap, int)
            and not isinstance(overlap, bool)
            and 0 <= overlap < meta["max_seq_length"]
        ):
            raise damaged(
                path, "window_overlap", "must be a whole number below max_seq_length for long_texts=chunks"
            )
    TASKS[task].validate_meta(meta, path, n)
    return meta


# An export's own files that decide its predictions: a model.onnx or quickfit.json changed after the export
# (another run's, or an edited threshold) is refused like a foreign export.
EXPORTED = ("model.onnx", "quickfit.json", "tokenizer.json")


def fingerprint(folder: Path, names: tuple[str, ...] = FINGERPRINTED) -> str:
    """sha256 over the files that decide predictions (FINGERPRINTED), in order; a missing one counts."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0")
        file = folder / name
        if file.exists():
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def validate_parity(parity: Any, path: Path) -> dict[str, Any]:
    """parity.json of an export: what its fp32 (and int8) copy was checked against, and on how many rows."""
    if not isinstance(parity, dict):
        raise UserError(
            f"{path} is damaged: it holds a JSON {type(parity).__name__}, not an object; export again"
        )
    fix = "export again (make export)"
    if not isinstance(parity.get("model_fingerprint"), str) or len(parity["model_fingerprint"]) != 64:
        raise damaged(
            path,
            "model_fingerprint",
            "is missing (an export from before quickfit bound onnx/ to its model)",
            fix,
        )
    if not (isinstance(parity.get("rows"), int) and parity["rows"] >= 0):
        raise damaged(path, "rows", "must be a whole number", fix)
    fp32 = parity.get("fp32")
    if not (
        isinstance(fp32, dict)
        and _number(fp32.get("max_probability_difference"))
        and _numbers([fp32.get("identical_decisions")], 1, 0.0, 1.0)
    ):
        raise damaged(path, "fp32", "must hold max_probability_difference and identical_decisions", fix)
    int8 = parity.get("int8")
    if int8 is not None and not (
        isinstance(int8, dict)
        and _numbers([int8.get("identical_decisions")], 1, 0.0, 1.0)
        and isinstance(int8.get("kept"), bool)
        and isinstance(int8.get("rows", 0), int)
    ):
        raise damaged(path, "int8", "must hold identical_decisions, rows and kept", fix)
    return parity


def check_bound(onnx_dir: Path, model_dir: Path) -> dict[str, Any]:
    """The export in onnx_dir was made from exactly the weights, config and quickfit.json in model_dir;
    returns its parity record. A copy from another run, or a model changed since, is refused."""
    from scripts.common.runs import read_json

    path = onnx_dir / "parity.json"
    if not path.exists():
        raise UserError(
            f"{onnx_dir} has no parity.json, so nothing ties it to the model it claims to be; export again "
            "(make export), or predict with BACKEND=torch"
        )
    parity = validate_parity(read_json(path), path)
    exported = parity.get("export_fingerprint")
    if exported is not None and exported != fingerprint(onnx_dir, EXPORTED):
        raise UserError(
            f"{onnx_dir} was changed after its export (model.onnx, quickfit.json or tokenizer.json differ "
            "from what was checked): export again with make export, or predict with BACKEND=torch"
        )
    if parity["model_fingerprint"] != fingerprint(model_dir):
        raise UserError(
            f"{onnx_dir} was exported from other weights than {model_dir} (copied from another run, or the "
            "model changed since): export again with make export, or predict with BACKEND=torch"
        )
    return parity
