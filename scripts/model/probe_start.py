"""Start a small-data fine-tune from the frozen probe (`probe_start`).

A sentence-transformers body such as all-MiniLM-L6-v2 was trained for its mean-pooled embedding, but
BertForSequenceClassification's head reads BERT's pooler over [CLS], a position that body never trained:
on Reuters R8 at 8 rows a class a probe scores 0.85 macro-F1 on the mean and 0.60 on the pooler
(bench/SMALL_DATA.md). So before fine-tuning, one BERT layer is appended whose every position, [CLS]
included, becomes the (masked) mean of the body's last hidden states: its queries and keys are zero, so
attention is uniform over the real tokens; its values and output projection pass the mean through (the
output scaled up so that the residual [CLS] is a 1 % echo once LayerNorm rescales); its feed-forward
block is zero. The pooler starts as the identity (then tanh), and the classifier from logistic regression
on those features of the training rows, its logits scaled by HEAD_SCALE (linear probing, then fine-tuning:
Kumar et al. 2022, LP-FT). The
fine-tune starts where the probe is, not from a random head on an untrained position, and the published
model is still a plain BertForSequenceClassification (one layer more, every weight present), so eval,
predict, ONNX and the Hub load it unchanged.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common import tasks
from scripts.common.errors import UserError
from scripts.common.runtime import offline

ARCHITECTURES = ("bert",)  # whose layer and pooler are built as below; others keep their own head
RESIDUAL_SHARE = 0.01  # how much of the body's own [CLS] the appended layer's output keeps
# The probe's logits are scaled down at the start: a few dozen rows are separable, so the probe's own head
# leaves the fine-tune almost no loss to learn from (SMS spam, 8 a class, draw 0: accuracy 0.8796 at full
# scale, 0.9606 at 0.1; Reuters R8 0.8833 and 0.8728, against 0.8153 without probe_start; bench/SMALL_DATA.md)
HEAD_SCALE = 0.1
# A regression's head starts as the ridge fit itself: squared error does not saturate, so a full-scale start
# leaves the fine-tune its residuals to learn from (linear probing, then fine-tuning)
REGRESSION_HEAD_SCALE = 1.0


def _read_json(base: str, filename: str) -> dict | list | None:
    """A file of a local model folder or (cached or downloaded) of a Hub model; None when it has none."""
    path = Path(base)
    if path.is_dir():
        target = path / filename
    else:
        from huggingface_hub import hf_hub_download

        try:
            target = Path(hf_hub_download(base, filename, local_files_only=offline()))
        except Exception:  # no such file, or unreachable: the body is not known to be mean-pooled
            return None
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def unsuited(base: str, architecture: str) -> str | None:
    """Why this base cannot start from the probe (None: it can)."""
    if architecture not in ARCHITECTURES:
        return f"a {architecture} body (probe_start is built for BERT bodies)"
    modules = _read_json(base, "modules.json")
    pooling = next(
        (m.get("path") for m in modules or [] if str(m.get("type", "")).endswith("models.Pooling")), None
    )
    config = _read_json(base, f"{pooling}/config.json") if pooling else None
    if not isinstance(config, dict):
        return "not a sentence-transformers body (no modules.json with a Pooling module)"
    modes = [k for k, v in config.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        return f"a sentence-transformers body pooled by {', '.join(modes) or 'nothing'}, not the mean"
    return None


def append_mean_layer(bert: Any) -> None:
    """Append to a BertModel a layer whose every position is LayerNorm(mean of the last hidden states over
    the attention mask), and make its pooler tanh(identity); config.num_hidden_layers follows."""
    import torch

    layer = copy.deepcopy(bert.encoder.layer[-1])
    size = bert.config.hidden_size
    eye = torch.eye(size)
    with torch.no_grad():
        attention = layer.attention.self
        for linear in (attention.query, attention.key):  # zero scores: uniform over the unmasked tokens
            linear.weight.zero_()
            linear.bias.zero_()
        attention.value.weight.copy_(eye)
        attention.value.bias.zero_()
        out = layer.attention.output
        out.dense.weight.copy_(eye / RESIDUAL_SHARE)
        out.dense.bias.zero_()
        for norm in (out.LayerNorm, layer.output.LayerNorm):
            norm.weight.fill_(1.0)
            norm.bias.zero_()
        for linear in (layer.intermediate.dense, layer.output.dense):  # feed-forward adds nothing
            linear.weight.zero_()
            linear.bias.zero_()
        bert.pooler.dense.weight.copy_(eye)
        bert.pooler.dense.bias.zero_()
    if hasattr(attention, "layer_idx"):
        attention.layer_idx = len(bert.encoder.layer)
    bert.encoder.layer.append(layer)
    bert.config.num_hidden_layers = len(bert.encoder.layer)


def pooled_features(model: Any, tokenizer: Any, texts: Sequence[Any], max_len: int) -> np.ndarray:
    """The pooler outputs (what the classifier reads) of texts or (first, second) pairs, input order."""
    import torch

    from scripts.model.base_model import batches_by_length

    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for rows, batch in batches_by_length(tokenizer, texts, max_len, 32):
            out[rows] = model.bert(**batch).pooler_output.float().numpy()
    return out


def probe_head(
    features: np.ndarray,
    y: np.ndarray,
    task: str,
    n_labels: int,
    seed: int,
    scale: float = 1.0,
    C: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Classifier weight (n_labels, hidden) and bias from logistic regression on the features, as logits of
    the task's loss: softmax over labels (binary too: two logits whose difference is the log-odds), one
    sigmoid a label for multi-label; for a regression, ridge (its penalty cross-validated) on the
    standardised targets. The fitted logits are multiplied by scale; a label the rows lack gets a zero
    weight and a bias that keeps it unlikely on every row at that scale (p < 0.02: its margin is not
    scaled down with the others). C: the logistic regression's inverse penalty."""
    from sklearn.linear_model import LogisticRegression, RidgeCV

    weight = np.zeros((n_labels, features.shape[1]), dtype=np.float32)
    bias = np.zeros(n_labels, dtype=np.float32)
    if not tasks.get(task).classifies:  # a regression: standardised targets, one output each
        ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(features, y.reshape(len(y), n_labels))
        weight = scale * ridge.coef_.reshape(n_labels, -1)
        return weight.astype(np.float32), (scale * np.ravel(ridge.intercept_)).astype(np.float32)
    logreg = LogisticRegression(class_weight="balanced", max_iter=3000, C=C, random_state=seed)
    if tasks.get(task).per_label:  # one logistic regression a label
        for label in range(n_labels):
            if 0 < y[:, label].sum() < len(y):
                fitted = logreg.fit(features, y[:, label])
                weight[label], bias[label] = scale * fitted.coef_[0], scale * fitted.intercept_[0]
            else:
                bias[label] = 4.0 if y[:, label].all() else -4.0
        return weight, bias
    fitted = logreg.fit(features, y)
    classes = fitted.classes_.astype(int)
    if len(classes) == 2 and fitted.coef_.shape[0] == 1:  # sklearn's binary form: one log-odds
        weight[classes[1]], bias[classes[1]] = fitted.coef_[0] / 2, fitted.intercept_[0] / 2
        weight[classes[0]], bias[classes[0]] = -fitted.coef_[0] / 2, -fitted.intercept_[0] / 2
    else:
        weight[classes], bias[classes] = fitted.coef_, fitted.intercept_
    weight, bias = weight * scale, bias * scale
    missing = np.setdiff1d(np.arange(n_labels), classes)
    bias[missing] = (features @ weight[classes].T + bias[classes]).min() - 4.0  # under every row's logits
    return weight, bias


def mean_pooled_model(base: str, n_labels: int, unit_norm: bool = False) -> tuple[Any, Any]:
    """The base body as a BertForSequenceClassification with the mean layer appended (its head not yet
    fitted), and its tokenizer. unit_norm: the pooler divides by sqrt(hidden size), so it outputs
    LayerNorm(mean) / sqrt(d), the centred mean at unit length, with tanh in its linear range: what the
    frozen probe reads (an L2-normalised mean). On SMS spam's 15 draws at 8 / 16 / 64 a class the probe on
    these features scored within 0.5 points of the reference's on 432 test rows; without it, 10.7 points
    under on one draw (bench/SMALL_DATA.md)."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    local = offline()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=local)
    model = BertForSequenceClassification.from_pretrained(
        base, num_labels=n_labels, local_files_only=local, dtype=torch.float32
    )
    append_mean_layer(model.bert)
    if unit_norm:
        with torch.no_grad():
            model.bert.pooler.dense.weight.div_(model.config.hidden_size**0.5)
    return model, tokenizer


def save_with_head(model: Any, tokenizer: Any, weight: np.ndarray, bias: np.ndarray, folder: Path) -> Path:
    """The model with its classifier set to (weight, bias), saved with its tokenizer in folder."""
    import torch

    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(np.asarray(weight, dtype=np.float32)))
        model.classifier.bias.copy_(torch.from_numpy(np.asarray(bias, dtype=np.float32)))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build(
    base: str,
    texts: Sequence[Any],
    encoded: Sequence[Any],
    task: str,
    n_labels: int,
    max_len: int,
    folder: Path,
    seed: int,
) -> Path:
    """The starting model for a fine-tune on (texts or (first, second) pairs, encoded labels): the base body
    with the mean layer and a head fitted as the probe on the (joint) sequence's mean (HEAD_SCALE times its
    logits; a regression's at REGRESSION_HEAD_SCALE), saved with its tokenizer in folder."""
    model, tokenizer = mean_pooled_model(base, n_labels)
    kind = tasks.get(task)
    if kind.target_dtype == "int64":  # class ids
        y = np.asarray(encoded, dtype=int)
        if len(np.unique(y)) < 2:
            raise UserError(
                "probe_start needs two labels or more among the training rows; set probe_start=False"
            )
    else:  # a row of 0/1 a label, or of standardised targets
        y = np.array([list(np.ravel(v)) for v in encoded], dtype=np.float64)
    scale = HEAD_SCALE if kind.classifies else REGRESSION_HEAD_SCALE
    features = pooled_features(model, tokenizer, texts, max_len)
    weight, bias = probe_head(features, y, task, n_labels, seed, scale)
    return save_with_head(model, tokenizer, weight, bias, folder)
