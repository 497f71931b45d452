"""Prediction on ONNX Runtime with the `tokenizers` library: no torch, no transformers, no Simple
Transformers, so a CPU server (or `make predict BACKEND=onnx`) starts in a fraction of the time.

It gives what the PyTorch predictor gives: the same cut of long texts (truncation.py through a small
adapter around `tokenizers`), batches of similar length, the same temperature, thresholds and decision
rule (quickfit.json, inference.decide). The export checks that on the run's validation rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common.errors import UserError
from scripts.common.length_runs import sub_batches
from scripts.model.inference import Predictor

FP32, INT8 = "model.onnx", "model_quantized.onnx"
# A pass's cost in token positions on ONNX Runtime (CPU): its fixed cost a pass is smaller than PyTorch's
# (`python -m bench.predict_batches`)
PASS_COST_ONNX = 13.0


class TokenizerAdapter:
    """The slice of a transformers tokenizer that truncation.py uses, over tokenizer.json alone."""

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        self.backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.backend.no_truncation()
        self.backend.no_padding()
        settings = _read(folder / "tokenizer_config.json")
        specials = _read(folder / "special_tokens_map.json")
        pad = settings.get("pad_token") or specials.get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        self.pad_id = self.backend.token_to_id(pad) if pad else 0
        self.padding_side = settings.get("padding_side", "right")
        self.is_fast = True

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        processor = self.backend.post_processor
        return processor.num_special_tokens_to_add(pair) if processor is not None else 0

    def __call__(
        self, texts, pairs=None, add_special_tokens: bool = True, return_offsets_mapping: bool = False, **_
    ):
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        if (
            pairs is not None
        ):  # tokenizer(first_texts, second_texts): pairs, as transformers' tokenizers take them
            items = list(zip(items, [pairs] if single else list(pairs)))
        encodings = self.backend.encode_batch(items, add_special_tokens=add_special_tokens)
        out: dict[str, Any] = {"input_ids": [e.ids for e in encodings]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encodings]
        return {k: v[0] for k, v in out.items()} if single else out

    def encode(self, texts: Sequence[Any], max_length: int) -> list[Any]:
        """Each text (or (first, second) pair, cut longest first) tokenised once, cut at max_length tokens
        (specials included), unpadded."""
        self.backend.enable_truncation(max_length=max_length)
        try:
            return self.backend.encode_batch(list(texts))
        finally:
            self.backend.no_truncation()

    def pad(self, encodings: Sequence[Any]) -> dict[str, np.ndarray]:
        """Model inputs for encoded texts, padded to the longest (on the tokenizer's side)."""
        width = max(len(e.ids) for e in encodings)
        arrays = {
            "input_ids": np.full((len(encodings), width), self.pad_id, dtype=np.int64),
            "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
            "token_type_ids": np.zeros((len(encodings), width), dtype=np.int64),
        }
        for row, e in enumerate(encodings):
            span = slice(width - len(e.ids), width) if self.padding_side == "left" else slice(0, len(e.ids))
            arrays["input_ids"][row, span] = e.ids
            arrays["attention_mask"][row, span] = 1
            arrays["token_type_ids"][row, span] = e.type_ids
        return arrays

    def batch(self, texts: Sequence[Any], max_length: int) -> dict[str, np.ndarray]:
        """Model inputs for texts (or pairs), cut at max_length tokens, padded to the longest."""
        return self.pad(self.encode(texts, max_length))


def _read(path: Path) -> dict[str, Any]:
    from scripts.common.runs import read_json

    return read_json(path) if path.exists() else {}


class OnnxPredictor(Predictor):
    """Predictor's interface (predict_logits, predict_proba, decide) on an ONNX Runtime session: only the
    batch scoring differs, so long texts are cut or windowed exactly as with PyTorch."""

    def batch_logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if not len(texts):
            return out
        # tokenised once, sorted by token count (by characters measured 33 % slower on SMS spam: more
        # padding per batch), cut into batches of similar length, each padded to its own longest
        encodings = self.tokenizer.encode(texts, self.max_seq_length)
        lengths = np.array([len(e.ids) for e in encodings])
        wanted = [i.name for i in self.model.get_inputs()]
        for rows in sub_batches(lengths, self.pass_cost, batch_size):
            batch = self.tokenizer.pad([encodings[i] for i in rows])
            out[rows] = self.model.run(None, {name: batch[name] for name in wanted})[0].reshape(len(rows), -1)
        return out


def onnx_file(folder: Path, quantized: bool = False) -> Path | None:
    """The ONNX file in a run's onnx/ folder or a pushed repo's onnx/ subfolder, if there is one."""
    name = INT8 if quantized else FP32
    for candidate in (folder / name, folder / "onnx" / name):
        if candidate.exists():
            return candidate
    return None


def load_onnx_predictor(
    folder: Path, threads: Any = "auto", quantized: bool = False, spinning: bool = True
) -> OnnxPredictor:
    """An OnnxPredictor for an exported folder (outputs/<run>/onnx/) or a pushed repo (onnx/ inside).
    spinning=False: ONNX Runtime's threads sleep between runs instead of spinning, leaving the cores to
    the tokenizer and to other processes (a server's HTTP process)."""
    import onnxruntime as ort

    from scripts.common.runtime import physical_cores

    path = onnx_file(folder, quantized)
    if path is None:
        raise UserError(
            f"no {'int8 ' if quantized else ''}ONNX model in {folder}; run `make export"
            + (" QUANTIZE=1" if quantized else "")
            + "` first, or predict with BACKEND=torch"
        )
    from scripts.model.inference import check_label_count
    from scripts.model.meta import validate_meta

    if not (folder / "quickfit.json").exists() or not (folder / "tokenizer.json").exists():
        raise UserError(f"{folder} lacks quickfit.json or tokenizer.json beside the ONNX model; export again")
    meta = validate_meta(_read(folder / "quickfit.json"), folder / "quickfit.json")
    options = ort.SessionOptions()
    options.intra_op_num_threads = physical_cores() if threads == "auto" else int(threads)
    options.log_severity_level = 3
    options.inter_op_num_threads = 1  # one graph at a time: the intra-op threads are the parallelism
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own error types for a damaged file
        raise UserError(f"{path} cannot be loaded ({str(exc).splitlines()[0][:160]}); export again") from exc
    shape = session.get_outputs()[0].shape
    outputs = shape[-1] if len(shape) == 2 and isinstance(shape[-1], int) else None
    if outputs is None:
        raise UserError(f"{path} does not output one row of scores per text (shape {shape}); export again")
    check_label_count(outputs, meta, path)
    config = _read(folder / "config.json")
    if config.get("id2label") and len(config["id2label"]) != len(meta["labels"]):
        check_label_count(len(config["id2label"]), meta, folder / "config.json")
    return OnnxPredictor(
        model=session,
        tokenizer=TokenizerAdapter(folder),
        task=meta["task"],
        labels=meta["labels"],
        max_seq_length=int(meta["max_seq_length"]),
        thresholds=list(meta.get("thresholds") or []),
        meta=meta,
        pass_cost=PASS_COST_ONNX,
    )
