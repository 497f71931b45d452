"""probe_start: the appended layer hands the head the body's mean-pooled embedding, the head starts as the
frozen probe's logistic regression, auto turns it on only for small data on a mean-pooled
sentence-transformers BERT body, and the published model is a plain BertForSequenceClassification."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scripts.common import settings
from scripts.common.errors import UserError
from scripts.model import probe_start
from tests.tiny_models import sentence_body


@pytest.fixture(scope="module")
def mean_body(tmp_path_factory) -> Path:
    return sentence_body(tmp_path_factory.mktemp("mean_body") / "body")


def test_the_appended_layer_gives_every_position_the_masked_mean(mean_body):
    import torch
    from transformers import AutoTokenizer, BertModel

    tokenizer = AutoTokenizer.from_pretrained(mean_body)
    body = BertModel.from_pretrained(mean_body).eval()
    texts = ["markets rallied on strong earnings today", "rain"]  # the second is padded in the batch
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = body(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        mean = (hidden * mask).sum(1) / mask.sum(1)
        expected = torch.nn.functional.layer_norm(mean, mean.shape[-1:], eps=body.config.layer_norm_eps)
        probe_start.append_mean_layer(body)
        out = body(**batch)
        alone = body(**tokenizer(texts[1:], return_tensors="pt")).pooler_output
    assert body.config.num_hidden_layers == 3
    assert torch.allclose(out.last_hidden_state[:, 0], expected, atol=0.05)  # the [CLS] echo is 1 %
    assert torch.allclose(out.pooler_output, torch.tanh(out.last_hidden_state[:, 0]), atol=1e-6)
    assert torch.allclose(out.pooler_output[1], alone[0], atol=1e-5)  # padding does not enter the mean
    # and the [CLS] it replaces is not the mean: the layer is what makes the head read it
    assert not torch.allclose(hidden[:, 0], mean, atol=0.05)


@pytest.mark.parametrize("scale", [1.0, 0.1])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_the_head_starts_as_the_probes_logistic_regression(task, scale):
    import torch
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    n = {"binary": 2, "multiclass": 4, "multilabel": 3}[task]
    if task == "multilabel":
        y = (x[:, :3] > 0).astype(int)
        y[:, 2] = 0  # a label no training row has: never predicted at the start
    else:
        y = (x[:, 0] > 0).astype(int) + (2 * (x[:, 1] > 0) if task == "multiclass" else 0)
        if task == "multiclass":
            y[y == 3] = 2  # label 3 is absent: its logit starts below every other
    weight, bias = probe_start.probe_head(x, y, task, n, 0, scale)
    start = torch.from_numpy(x) @ torch.from_numpy(weight).T + torch.from_numpy(
        bias
    )  # as the fine-tune starts
    logits = start / scale  # the fitted labels' logits at full scale
    logreg = LogisticRegression(class_weight="balanced", max_iter=3000, C=1.0, random_state=0)
    if task == "multilabel":
        for label in range(2):
            fitted = logreg.fit(x, y[:, label])
            assert np.allclose(logits[:, label].numpy(), fitted.decision_function(x), atol=1e-4)
        assert (torch.sigmoid(start[:, 2]) < 0.02).all()  # the absent label at any scale
    elif task == "binary":
        fitted = logreg.fit(x, y)
        assert np.allclose((logits[:, 1] - logits[:, 0]).numpy(), fitted.decision_function(x), atol=1e-4)
    else:
        fitted = logreg.fit(x, y)
        assert (logits[:, :3].argmax(1).numpy() == fitted.predict(x)).all()
        assert (torch.softmax(start, 1)[:, 3] < 0.05).all()


def test_only_a_mean_pooled_sentence_transformers_bert_body_is_suited(mean_body, tmp_path, tiny_model):
    assert probe_start.unsuited(str(mean_body), "bert") is None
    assert "not a sentence-transformers body" in probe_start.unsuited(str(tiny_model), "bert")
    cls_body = sentence_body(tmp_path / "cls", pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    assert "pooled by pooling_mode_cls_token" in probe_start.unsuited(str(cls_body), "bert")
    assert "a roberta body" in probe_start.unsuited(str(mean_body), "roberta")
    from scripts.model.base_model import PACKAGED_MINILM, resolve_model_name

    assert probe_start.unsuited(resolve_model_name(PACKAGED_MINILM), "bert") is None  # the default


def test_auto_starts_from_the_probe_for_small_data_on_a_suited_body(mean_body, tiny_model):
    from scripts.training.plan import check_probe_start
    from scripts.training.recipes import SMALL_DATA_ROWS, choose

    cfg = settings.resolve({})
    small, reasons = choose(cfg, "binary", 64, 2, body_unsuited=None)
    assert small["probe_start"] is True and any(r.startswith("probe_start=True: small data") for r in reasons)
    assert choose(cfg, "binary", SMALL_DATA_ROWS, 2, body_unsuited=None)[0]["probe_start"] is False
    unsuited, reasons = choose(cfg, "binary", 64, 2, body_unsuited="a roberta body")
    assert unsuited["probe_start"] is False and "probe_start=False: a roberta body" in reasons
    base = {**cfg, "model_type": "bert", "model_name": str(tiny_model)}
    assert check_probe_start({**base, "probe_start": "auto"}, str(tiny_model)).startswith("not a")
    with pytest.raises(UserError, match="probe_start=True needs a mean-pooled sentence-transformers"):
        check_probe_start({**base, "probe_start": True}, str(tiny_model))
    assert check_probe_start({**base, "probe_start": True}, str(mean_body)) is None
    # on large data auto never reads the body (a Hub id would be a download for nothing); True still does
    assert check_probe_start({**base, "probe_start": "auto"}, "no/such-body", helps=False).startswith(
        "not checked"
    )
    with pytest.raises(UserError, match="probe_start=True needs"):
        check_probe_start({**base, "probe_start": True}, str(tiny_model), helps=False)


def test_auto_starts_multilabel_from_the_probe_beyond_the_small_data_cut_over():
    from scripts.training.recipes import SMALL_ROWS_PER_LABEL, choose, is_small

    cfg = settings.resolve({})
    rows = 100 * 28  # GoEmotions' 28 labels at 100 rows a label: over the small-data cut-over
    assert not is_small(rows, 28) and SMALL_ROWS_PER_LABEL < 100
    chosen, reasons = choose(cfg, "multilabel", rows, 28, body_unsuited=None)
    assert chosen["probe_start"] is True and chosen["train_batch_size"] == 16  # the usual recipe otherwise
    assert any(r.startswith("probe_start=True: multi-label with 100 training rows a label") for r in reasons)
    # the full GoEmotions training split (42,820 rows) too; single-label data of either size keep a fresh head
    chosen, reasons = choose(cfg, "multilabel", 42_820, 28, body_unsuited=None)
    assert chosen["probe_start"] is True and chosen["num_train_epochs"] == 5
    assert any(r.startswith("probe_start=True: multi-label with 1529 training rows a label") for r in reasons)
    for n_train in (rows, 42_820):
        chosen, reasons = choose(cfg, "multiclass", n_train, 28, body_unsuited=None)
        assert chosen["probe_start"] is False
        assert "probe_start=False: enough rows to train the head from scratch" in reasons
    unsuited = choose(cfg, "multilabel", rows, 28, body_unsuited="a roberta body")
    assert unsuited[0]["probe_start"] is False and "probe_start=False: a roberta body" in unsuited[1]


@pytest.fixture(scope="module", params=["binary", "multilabel"])
def probe_start_run(request, mean_body, tmp_path_factory):
    """A small run on the sentence body, trained so little (1 epoch at 1e-9) that its head is still the
    head it began from."""
    from tests.conftest import make_frame, make_multilabel_frame
    from tests.helpers import tiny_args, train_run

    root = tmp_path_factory.mktemp("probe_start")
    if request.param == "binary":
        make_frame({"ham": 30, "spam": 20}).to_csv(root / "small.csv", index=False)
        extra = []
    else:
        frame = make_multilabel_frame(60)
        frame.assign(labels=frame["labels"].map(",".join)).to_csv(root / "small.csv", index=False)
        extra = ["task=multilabel", "label_column=labels"]
    args = tiny_args(mean_body, root / "out") + [
        "probe_start=auto",
        "num_train_epochs=1",
        "learning_rate=1e-9",
    ]
    return train_run(root / "small.csv", args + extra)


def test_a_small_run_on_a_sentence_body_publishes_a_plain_bert_with_the_mean_layer(probe_start_run):
    import pandas as pd
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from scripts.data.dataset import encode_labels

    record = json.loads((probe_start_run / "run.json").read_text())
    assert record["model"]["probe_start"] is True
    model, info = AutoModelForSequenceClassification.from_pretrained(
        probe_start_run / "model", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert type(model).__name__ == "BertForSequenceClassification" and model.config.num_hidden_layers == 3
    # the head Simple Transformers trained from is the probe's (scaled), fitted on the training rows' mean
    train = pd.read_csv(probe_start_run / "splits" / "train.csv")
    labels = train["labels"].map(json.loads) if record["task"] == "multilabel" else train["labels"]
    y = np.array(encode_labels(labels, record["labels"], record["task"]))
    tokenizer = AutoTokenizer.from_pretrained(probe_start_run / "model")
    features = probe_start.pooled_features(model, tokenizer, train["text"].tolist(), record["max_seq_length"])
    scale = probe_start.HEAD_SCALE
    weight, bias = probe_start.probe_head(features, y, record["task"], len(record["labels"]), 42, scale)
    assert np.allclose(model.classifier.weight.detach().numpy(), weight, atol=1e-4)
    assert np.allclose(model.classifier.bias.detach().numpy(), bias, atol=1e-4)
    assert not any(probe_start_run.rglob("probe_start"))  # the starting folder is not kept
    from scripts import card
    from scripts.common.errors import run_cli

    assert run_cli(card.main, ["--run", str(probe_start_run)]) == 0
    assert "started from the frozen probe" in (probe_start_run / "model" / "README.md").read_text()


def test_a_regression_head_starts_as_ridge_on_the_standardised_targets():
    from sklearn.linear_model import RidgeCV

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 6)).astype(np.float32)
    y = np.stack([x[:, 0] - x[:, 1], 0.5 * x[:, 2]], axis=1) + 0.1 * rng.normal(size=(80, 2))
    weight, bias = probe_start.probe_head(x, y, "regression", 2, 0, probe_start.REGRESSION_HEAD_SCALE)
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x, y)
    np.testing.assert_allclose(x @ weight.T + bias, ridge.predict(x), atol=1e-4)
