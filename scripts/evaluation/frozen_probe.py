"""The frozen-embedding probe: logistic regression on the base model's own mean-pooled embeddings, never
fine-tuned. Beside the fine-tuned model on the same rows it answers "was fine-tuning worth it here?"; on a
few dozen or hundred labels it is often the stronger of the two (sentence-transformers bodies such as
all-MiniLM-L6-v2 are trained for exactly these embeddings).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_TRAIN_ROWS = 10_000  # embedding more training rows costs minutes on a CPU; a sample is said as such


def embed(model_path: str, texts: Sequence[str], max_seq_length: int, batch_size: int = 64) -> np.ndarray:
    """L2-normalised mean-pooled last hidden states of the base model (the body, no head), input order."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from scripts.common.runtime import offline
    from scripts.model.base_model import batches_by_length, masked_mean

    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=offline())
    model = AutoModel.from_pretrained(model_path, local_files_only=offline(), dtype=torch.float32).eval()
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for rows, batch in batches_by_length(tokenizer, texts, max_seq_length, batch_size):
            pooled = masked_mean(model(**batch).last_hidden_state, batch["attention_mask"])
            out[rows] = torch.nn.functional.normalize(pooled, dim=1).numpy()
    return out


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
    """Fit the probe on (at most MAX_TRAIN_ROWS of) the training split; probabilities for each list of
    texts (columns = label ids), and what it was fitted on."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    rows = np.arange(len(train_texts))
    if len(rows) > MAX_TRAIN_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_TRAIN_ROWS, replace=False))
    x_train = embed(model_path, [train_texts[i] for i in rows], max_seq_length)
    y_fit = y_train[rows]
    logreg = LogisticRegression(class_weight="balanced", max_iter=3000, C=1.0, random_state=seed)
    outputs = []
    if task == "multilabel":
        keep = y_fit.sum(0) > 0  # a label never seen in training gets probability 0
        model = OneVsRestClassifier(logreg).fit(x_train, y_fit[:, keep])
        for batch in texts:
            probs = np.zeros((len(batch), y_train.shape[1]))
            if batch:
                probs[:, keep] = model.predict_proba(embed(model_path, batch, max_seq_length))
            outputs.append(probs)
    else:
        model = logreg.fit(x_train, y_fit)
        for batch in texts:
            probs = np.zeros((len(batch), n_labels))
            if batch:
                probs[:, model.classes_] = model.predict_proba(embed(model_path, batch, max_seq_length))
            outputs.append(probs)
    return outputs, {"train_rows": int(len(rows)), "of_train_rows": len(train_texts), "pooling": "mean"}
