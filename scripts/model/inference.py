"""Load a trained run's model with plain transformers and predict probabilities, fast.

Simple Transformers is not imported here (it costs ~14 s): evaluation, prediction, the app and
the push check all load the saved folder directly. Texts are sorted by length and cut into batches of
similar length (common/length_runs.py), each padded to its own longest, then put back in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common.length_runs import sub_batches

# A forward pass's cost in token positions (Predictor.pass_cost), `python -m bench.predict_batches`: measured
# on a CPU (all-MiniLM-L6-v2, 2 cores); on a GPU a position is nearly free, so only full batches pay a pass
PASS_COST_CPU = 26.0
PASS_COST_GPU = 1e6


@dataclass
class Predictor:
    model: Any
    tokenizer: Any
    task: str
    labels: list[str]  # class names, or a regression's target names
    max_seq_length: int
    thresholds: list[float] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    device: Any = "cpu"
    # What one more forward pass costs in token positions, where a batch is cut by length (length_runs.py)
    pass_cost: float = PASS_COST_CPU

    @property
    def kind(self) -> Any:
        from scripts.common import tasks

        return tasks.get(self.task)

    @property
    def pair(self) -> bool:
        """Whether the model reads a pair of texts (rows are (first, second) tuples)."""
        return bool(self.meta.get("text_pair"))

    def fit_texts(self, texts: Sequence[str]) -> list[str]:
        """The texts as the model was trained on them: long ones cut by the run's truncation rule."""
        from scripts.model.truncation import fit

        return fit(texts, self.tokenizer, self.max_seq_length, self.meta.get("truncation", "head"))

    def rows(self, items: Sequence[Any]) -> list[Any]:
        """Inputs as the model takes them: strings, or (first, second) tuples for a pair model; a pair
        model refuses single texts (one line, never a silent guess at the second text)."""
        from scripts.common.errors import UserError

        if self.pair:
            bad = next((x for x in items if not (isinstance(x, (tuple, list)) and len(x) == 2)), None)
            if bad is not None:
                raise UserError(
                    f"this model reads pairs of texts, and got {str(bad)[:60]!r}; give both texts of each "
                    "pair"
                )
            return [("" if a is None else str(a), "" if b is None else str(b)) for a, b in items]
        return ["" if t is None else str(t) for t in items]

    def predict_logits(self, texts: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """The model's raw outputs, in input order. A run trained on windows (long_texts=chunks) scores
        every window of a long text and averages their logits weighted by their tokens, as its
        validation did; a pair is read in one sequence, cut longest first."""
        texts = self.rows(texts)
        if self.pair:
            return self.batch_logits(texts, batch_size)
        if self.meta.get("long_texts") != "chunks":
            return self.batch_logits(self.fit_texts(texts), batch_size)
        from scripts.model.windows import pool, split, text_tokens

        pieces, owners = split(texts, self.tokenizer, self.max_seq_length, int(self.meta["window_overlap"]))
        return pool(
            self.batch_logits(pieces, batch_size), owners, len(texts), text_tokens(pieces, self.tokenizer)
        )

    def batch_logits(self, texts: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Raw scores of texts (or pairs) that fit, in input order (sorted by length, padded per batch)."""
        import torch

        from scripts.model.base_model import tokenize

        if not len(texts):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        encoded = tokenize(self.tokenizer, texts, truncation=True, max_length=self.max_seq_length)
        lengths = np.array([len(x) for x in encoded["input_ids"]])
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
        with torch.inference_mode():
            for rows in sub_batches(lengths, self.pass_cost, batch_size):
                batch = self.tokenizer.pad(
                    {k: [encoded[k][i] for i in rows] for k in keys}, return_tensors="pt"
                )
                logits = self.model(**batch.to(self.device)).logits.float().cpu().numpy()
                out[rows] = logits.reshape(len(rows), -1)
        return out

    def predict_proba(self, texts: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """What a user reads: class probabilities (softmax), per-label probabilities (sigmoid), or a
        regression's scores in the data's units, in input order, at the temperature fitted on validation
        (quickfit.json), so predict, the app and the card agree."""
        logits = self.predict_logits(texts, batch_size)
        return self.kind.activate(logits, self.meta.get("temperature")).astype(np.float32)

    def decide(self, probs: np.ndarray) -> list:
        """Outputs -> label names (single-label), tuples of names (multi-label, stored thresholds) or tuples
        of scores (regression)."""
        positive = self.labels.index(self.meta["positive_label"]) if self.meta.get("positive_label") else None
        return self.kind.named(self.kind.decide(probs, self.thresholds or None, positive), self.labels)

    def intervals(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """A regression's prediction interval around each score (split conformal by predicted range,
        quickfit.json), or None."""
        from scripts.evaluation.intervals import half_widths

        interval = self.meta.get("interval")
        if not interval:
            return None
        width = half_widths(interval, scores)
        return scores - width, scores + width


def decide(probs: np.ndarray, task: str, thresholds: list[float] | None, positive: int | None) -> np.ndarray:
    """The decision rule, in one place (the task's): label ids (single-label), a 0/1 matrix (multi-label)
    or the scores (regression). Multi-label: each label at its threshold (0.5 without); binary with a tuned
    threshold: the positive class when its probability reaches it; otherwise the most probable class."""
    from scripts.common import tasks

    return tasks.get(task).decide(probs, thresholds, positive)


def load_predictor(model_dir: Path, threads: Any = "auto", quantize: bool = False) -> Predictor:
    """A saved model folder -> Predictor (fp32, on the GPU when there is one; optional int8 on the CPU).

    The invariant checked at every load: the folder loads with plain AutoModelForSequenceClassification
    with no missing, newly initialised or mismatched weights. Anything else would be a random head that
    changes at every load, so it is an error, never a warning.
    """
    import torch
    from transformers.utils import logging as hf_logging

    from scripts.common.errors import UserError
    from scripts.common.runtime import device, quiet_environment, set_threads

    quiet_environment()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    set_threads(threads)
    if not (model_dir / "quickfit.json").exists() or not (model_dir / "config.json").exists():
        raise UserError(
            f"{model_dir} is not a quickfit model folder (no quickfit.json or config.json); "
            "give a run folder made by `make train`"
        )
    from scripts.common.runs import read_json
    from scripts.model.meta import validate_meta

    path = model_dir / "quickfit.json"
    meta = validate_meta(read_json(path), path)  # damage is one line naming the file and the field
    model, tokenizer = load_complete(model_dir)
    check_label_count(model.config.num_labels, meta, model_dir / "config.json")
    model.eval()
    target = device()
    if quantize:  # int8 dynamic quantisation runs on the CPU
        model, target = (
            torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8),
            "cpu",
        )
    model.to(target)
    return Predictor(
        model=model,
        tokenizer=tokenizer,
        task=meta["task"],
        labels=meta["labels"],
        max_seq_length=int(meta["max_seq_length"]),
        thresholds=list(meta.get("thresholds") or []),
        meta=meta,
        device=target,
        pass_cost=PASS_COST_CPU if str(target) == "cpu" else PASS_COST_GPU,
    )


def check_label_count(outputs: int, meta: dict[str, Any], where: Path) -> None:
    """The model's outputs, its config and quickfit.json agree on the number of labels (or targets)."""
    from scripts.common.errors import UserError

    if outputs != len(meta["labels"]):
        raise UserError(
            f"{where} gives {outputs} outputs but quickfit.json names {len(meta['labels'])} labels; the "
            "files come from different runs: restore the folder, or train (or export) again"
        )


def load_complete(model_dir: Path) -> tuple[Any, Any]:
    """The classifier and its tokenizer with plain transformers, refusing missing or mismatched weights."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from scripts.common.errors import UserError
    from scripts.model.base_model import check_safetensors

    check_safetensors(model_dir / "model.safetensors")
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            model_dir, dtype=torch.float32, output_loading_info=True
        )
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise UserError(
            f"{model_dir} cannot be loaded ({str(exc).splitlines()[0][:160]}); its weights or config "
            "are damaged: train again or restore the folder"
        ) from exc
    broken = sorted(info.get("missing_keys") or []) + [
        str(m[0] if isinstance(m, tuple) else m) for m in info.get("mismatched_keys") or []
    ]
    if broken:
        raise UserError(
            f"{model_dir} does not load as a complete classifier: {len(broken)} weights missing or "
            f"mismatched ({', '.join(broken[:3])}), which would be random at every load; train again"
        )
    return model, tokenizer
