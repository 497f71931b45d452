"""The frozen-embedding probe: a linear model (logistic regression for classes, ridge for scores) on the base
model's own mean-pooled embeddings, never fine-tuned. Beside the fine-tuned model on the same rows it
answers "was fine-tuning worth it here?"; on a few dozen or hundred labels it is often the stronger of the
two (sentence-transformers bodies such as all-MiniLM-L6-v2 are trained for exactly these embeddings).

A pair is read as a bi-encoder reads it: each text embedded alone, then the features u, v, |u - v| and
u * v (Conneau et al. 2017, Reimers and Gurevych 2019), where the fine-tuned model reads them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_TRAIN_ROWS = 10_000  # embedding more training rows costs minutes on a CPU; a sample is said as such


def embed(
    model_path: str,
    texts: Sequence[str],
    max_seq_length: int,
    batch_size: int = 64,
    overlap: int | None = None,
) -> np.ndarray:
    """L2-normalised mean-pooled last hidden states of the base model (the body, no head), input order.
    With a window overlap (a run with long_texts=chunks) a long text is read whole as the model reads it:
    its windows' embeddings averaged, weighted by their tokens, then normalised."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from scripts.common.runtime import offline
    from scripts.model import windows
    from scripts.model.base_model import batches_by_length, masked_mean

    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=offline())
    model = AutoModel.from_pretrained(model_path, local_files_only=offline(), dtype=torch.float32).eval()
    pieces, owners = list(texts), None
    if overlap is not None:
        pieces, owners = windows.split(pieces, tokenizer, max_seq_length, overlap)
    out = np.zeros((len(pieces), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for rows, batch in batches_by_length(tokenizer, pieces, max_seq_length, batch_size):
            pooled = masked_mean(model(**batch).last_hidden_state, batch["attention_mask"])
            out[rows] = torch.nn.functional.normalize(pooled, dim=1).numpy()
    if owners is None:
        return out
    pooled = windows.pool(out, owners, len(texts), windows.text_tokens(pieces, tokenizer))
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def features(
    model_path: str, rows: Sequence[Any], max_seq_length: int, overlap: int | None = None
) -> np.ndarray:
    """The probe's features of texts (their embeddings; whole long texts in windows with an overlap) or of
    pairs (u, v, |u - v|, u * v)."""
    if len(rows) and isinstance(rows[0], tuple):
        u = embed(model_path, [a for a, _ in rows], max_seq_length)
        v = embed(model_path, [b for _, b in rows], max_seq_length)
        return np.hstack([u, v, np.abs(u - v), u * v])
    return embed(model_path, list(rows), max_seq_length, overlap=overlap)


def probe_outputs(
    model_path: str,
    train_rows: Sequence[Any],
    y_train: np.ndarray,
    batches: list[Sequence[Any]],
    kind: Any,
    n_out: int,
    max_seq_length: int,
    seed: int = 0,
    with_out_of_fold: bool = False,
    overlap: int | None = None,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Fit the probe on (at most MAX_TRAIN_ROWS of) the training rows; its outputs for each batch of rows
    (texts or pairs) and (with_out_of_fold, last) the training rows' out-of-fold outputs, and what it was
    fitted on."""
    from scripts.evaluation.baselines import chosen_c, fit_linear, out_of_fold

    rows = np.arange(len(train_rows))
    if len(rows) > MAX_TRAIN_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_TRAIN_ROWS, replace=False))
    x_train = features(model_path, [train_rows[i] for i in rows], max_seq_length, overlap)
    xs = [
        features(model_path, batch, max_seq_length, overlap)
        if len(batch)
        else np.zeros((0, x_train.shape[1]))
        for batch in batches
    ]
    c, how = chosen_c(kind, x_train, y_train[rows], n_out, seed)
    outputs = fit_linear(kind, x_train, y_train[rows], xs, n_out, seed, c)
    if with_out_of_fold:
        if len(rows) < len(train_rows):
            raise ValueError("out-of-fold outputs need every training row")
        outputs.append(out_of_fold(kind, x_train, y_train, n_out, seed, C=c))
    pooling = (
        "mean; pairs as u, v, |u - v|, u * v"
        if len(train_rows) and isinstance(train_rows[0], tuple)
        else "mean" + ("; long texts in windows, their embeddings averaged" if overlap is not None else "")
    )
    return outputs, {
        "train_rows": int(len(rows)),
        "of_train_rows": len(train_rows),
        "pooling": pooling,
        "penalty": how,
    }


def probe_proba(
    model_path: str,
    train_texts: list[str],
    y_train: np.ndarray,
    texts: list[list[str]],
    task: str,
    n_labels: int,
    max_seq_length: int,
    seed: int = 0,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """probe_outputs by task name (make curve and the benches)."""
    from scripts.common import tasks

    return probe_outputs(
        model_path, train_texts, y_train, texts, tasks.get(task), n_labels, max_seq_length, seed
    )
