"""The values the card's usage snippets need (the template, card_template.md, holds the snippets): where the
model, quickfit.json and an export are, an example text (or pair) cut as in training, and what the task's
decision rule reads. An onnx/ folder is shown only when it was exported from exactly this model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.common import tasks
from scripts.common.errors import UserError
from scripts.evaluation.intervals import has_ranges
from scripts.evaluation.sentences import held_out_words
from scripts.model import truncation, windows
from scripts.model.architectures import simpletransformers_type


def usage_values(
    record: dict[str, Any], meta: dict[str, Any], ref: str, onnx: Path | None = None
) -> dict[str, Any]:
    """What the template's usage snippets need: where the model and quickfit.json are, an example text (cut
    as in training when the run's truncation is not the tokenizer's own), the task and thresholds."""
    example = (
        "Free entry! Text WIN to 80086 to claim your prize"
        if "spam" in record["labels"]
        else "Your text here"
    )
    kind, pair = tasks.get(record["task"]), bool(meta.get("text_pair"))
    mode = meta.get("truncation", "head")
    chunks = meta.get("long_texts") == "chunks"
    fit_text = "" if chunks or pair else truncation.card_snippet(mode, int(meta.get("max_seq_length", 512)))
    text = f'fit_text("{example}", classifier.tokenizer)' if fit_text else f'"{example}"'
    second = "Your second text here"
    interval = meta.get("interval")
    return {
        "ref": ref,
        "meta_path": f'hf_hub_download("{ref}", "quickfit.json")'
        if "/" in ref and not ref.startswith(("/", "."))
        else f'"{ref}/quickfit.json"',
        "mode": mode,
        "fit_text": fit_text,
        "windows": windows.card_snippet(int(meta["max_seq_length"]), int(meta["window_overlap"]))
        if chunks
        else "",
        "text": f'{{"text": "{example}", "text_pair": "{second}"}}' if pair else text,
        "onnx_text": f'"{example}", "{second}"' if pair else f'"{example}"',
        "st_text": f'["{example}", "{second}"]' if pair else text.replace("classifier.", "model."),
        # Simple Transformers loads single-label classifiers and one-target regressions as trained
        "st_snippet": kind.head == "single" and (kind.classifies or len(record["labels"]) == 1),
        "interval": bool(interval),
        "interval_ranges": has_ranges(interval),
        "interval_level": f"{interval['level']:.0%}" if interval else "",
        "meta_words": (
            "quickfit.json holds the prediction interval fitted on held-out rows"
            if not kind.classifies
            else f"quickfit.json holds the temperature fitted on {held_out_words(record)} and the "
            "threshold(s) tuned after it"
        ),
        "task": record["task"],
        "tuned_binary": record.get("positive_label") is not None and bool(meta.get("thresholds")),
        # Simple Transformers' multi-label classes train their own heads (none for DeBERTa or ModernBERT,
        # another one for ELECTRA): only its single-label class loads this folder as it was trained.
        "st_type": simpletransformers_type(record["model"]["model_type"]),
        "max_seq_length": int(meta.get("max_seq_length", 128)),
        "example": example,
        **onnx_values(ref, onnx),
    }


def onnx_values(ref: str, onnx: Path | None) -> dict[str, Any]:
    """Where the ONNX snippet finds its files: the Hub repo's onnx/ folder, or the run's local onnx/. Only
    an export of exactly this model, whose checks ran (parity.json), is shown and claimed."""
    from scripts.model.meta import check_bound

    if onnx is None or not (onnx / "model.onnx").exists():
        return {"onnx": False}
    try:
        parity = check_bound(onnx, onnx.parent / "model")
    except UserError:
        return {"onnx": False}
    int8 = parity.get("int8") or {}
    hub = "/" in ref and not ref.startswith(("/", "."))

    def where(name: str, local: Path) -> str:
        return f'hf_hub_download("{ref}", "{name}")' if hub else f'"{local}"'

    return {
        "onnx": True,
        "onnx_rows": parity["rows"],
        "onnx_int8_shown": bool(int8.get("shown", True)),
        "onnx_int8": (onnx / "model_quantized.onnx").exists() and bool(int8.get("kept")),
        "tokenizer_path": where("tokenizer.json", onnx / "tokenizer.json"),
        "onnx_path": where("onnx/model.onnx", onnx / "model.onnx"),
    }
