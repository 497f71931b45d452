"""Token attributions (scripts/explain.py): integrated gradients on a trained tiny model are complete (they
sum to the explained score's difference from the baseline), cover the text exactly, and reach report.md
and the card."""

import json

import numpy as np
import pytest
import torch

from scripts import evaluate
from scripts.evaluation.explain import explain
from scripts.model.inference import load_predictor
from tests.helpers import read_csv, tiny_args, train_run, write_binary_csv, write_multilabel_csv

TEXTS = ["free cash prize claim now urgent winner", "see you at lunch tomorrow ok", "x"]


def baseline_logits(predictor, text: str) -> np.ndarray:
    """The model's logits on the baseline, computed here: each non-special token replaced by the pad token."""
    enc = predictor.tokenizer(text, return_special_tokens_mask=True, return_tensors="pt")
    special = enc.pop("special_tokens_mask").bool()
    enc["input_ids"] = torch.where(special, enc["input_ids"], predictor.tokenizer.pad_token_id)
    with torch.no_grad():
        return predictor.model(**enc).logits[0].numpy()


@pytest.fixture(scope="module")
def binary_run(tiny_model, tmp_path_factory):
    """A binary run with 30 of 400 labels flipped, so its test split holds confident errors to explain."""
    tmp = tmp_path_factory.mktemp("explain")
    frame = read_csv(write_binary_csv(tmp / "b.csv"))
    flip = np.random.default_rng(0).choice(len(frame), 30, replace=False)
    frame.loc[flip, "label"] = frame.loc[flip, "label"].map({"ham": "spam", "spam": "ham"})
    frame.to_csv(tmp / "b.csv", index=False)
    return train_run(tmp / "b.csv", tiny_args(tiny_model, tmp / "outputs"))


def test_attributions_sum_to_the_logit_difference(binary_run):
    predictor = load_predictor(binary_run / "model", threads=1)
    spam, ham = predictor.labels.index("spam"), predictor.labels.index("ham")
    for text in TEXTS:
        a = explain(predictor, text, spam, ham, steps=256)
        logits = predictor.predict_logits([text])[0]
        base = baseline_logits(predictor, text)
        # the explained score is the spam-minus-ham logit difference, at the text and at the baseline
        assert a.score == pytest.approx(logits[spam] - logits[ham], abs=1e-4)
        assert a.baseline_score == pytest.approx(base[spam] - base[ham], abs=1e-4)
        # completeness: the token attributions add up to that difference
        difference = a.score - a.baseline_score
        assert a.total == pytest.approx(difference, abs=0.01 + 0.01 * abs(difference))
        # the fragments are the text itself, cut at token boundaries
        assert "".join(t for t, _ in a.fragments) == text
        assert any(s is not None for _, s in a.fragments)
        # explaining ham against spam flips every sign
        b = explain(predictor, text, ham, spam, steps=256)
        assert [s for _, s in b.fragments] == pytest.approx(
            [None if s is None else -s for _, s in a.fragments], abs=1e-4
        )


def test_highlights_are_scaled_and_markdown_marks_the_strongest(binary_run):
    predictor = load_predictor(binary_run / "model", threads=1)
    a = explain(predictor, TEXTS[0], predictor.labels.index("spam"))
    scaled = [s for _, s in a.as_highlights() if s is not None]
    assert max(abs(s) for s in scaled) == pytest.approx(1.0)
    top = a.top(3)
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True) and all(s > 0 for _, s in top)
    marked = a.as_markdown(3)
    assert marked.count("<mark>") == len(top)
    assert marked.replace("<mark>", "").replace("</mark>", "") == TEXTS[0]


def test_multilabel_attributions_explain_one_label(tiny_model, tmp_path):
    run = train_run(write_multilabel_csv(tmp_path / "m.csv"), tiny_args(tiny_model, tmp_path / "outputs"))
    predictor = load_predictor(run / "model", threads=1)
    text = TEXTS[0]
    for target in range(len(predictor.labels)):
        a = explain(predictor, text, target, steps=256)
        assert a.score == pytest.approx(predictor.predict_logits([text])[0][target], abs=1e-4)
        assert a.baseline_score == pytest.approx(baseline_logits(predictor, text)[target], abs=1e-4)
        difference = a.score - a.baseline_score
        assert a.total == pytest.approx(difference, abs=0.01 + 0.01 * abs(difference))


def test_eval_explains_the_most_confident_errors(binary_run):
    report = evaluate.evaluate(binary_run, threads=1)
    errors = report["errors"]["confident_wrong"]
    explained = report["explanations"]
    assert errors and len(explained) == min(5, len(errors))
    for wrong, why in zip(errors, explained):
        assert (why["true"], why["predicted"]) == (wrong["true"], wrong["predicted"])
        assert why["markdown"].replace("<mark>", "").replace("</mark>", "") == wrong["text"].replace(
            "\n", " "
        )
    saved = json.loads((binary_run / "eval" / "metrics.json").read_text())
    assert saved["explanations"] == explained
    text = (binary_run / "eval" / "report.md").read_text()
    assert "Why: token attributions" in text and "<mark>" in text


def test_card_shows_leakage_audit_and_explained_errors(binary_run):
    from scripts.card import write_card

    report = evaluate.evaluate(binary_run, threads=1)
    text = write_card(binary_run).read_text()
    leak = report["leakage"]
    assert f"{leak['rows_with_near_copy_in_train']} of {leak['rows']} evaluation rows" in text or (
        leak["rows_with_near_copy_in_train"] == 0 and "no evaluation row has a near-copy" in text
    )
    audit = report["label_audit"]
    assert "Label audit: cleanlab flags" in text and f"of {audit['rows']['test']} test rows" in text
    assert text.count("<mark>") >= len(report["explanations"]) > 0
    assert report["explanations"][0]["markdown"] in text
