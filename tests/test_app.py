"""The Gradio app in a real browser: headless Chromium types a text, clicks, and reads the label."""

import os

import pytest

from scripts.evaluation.explain import explain
from scripts.model.inference import load_predictor
from tests.browser import CHROMIUM, classify_in_browser, free_port, start_app
from tests.helpers import tiny_args, train_run, write_binary_csv

pytestmark = (
    pytest.mark.slow
)  # subprocesses that import Simple Transformers: make test runs it, make test-fast not


@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="Chromium is not installed here (.ci/run installs it, so CI runs this test)",
)
def test_app_answers_in_a_browser(tiny_model, tmp_path):
    run = train_run(write_binary_csv(tmp_path / "b.csv"), tiny_args(tiny_model, tmp_path / "outputs"))
    port = free_port()
    proc = start_app(run, port)
    text = "free cash prize claim now urgent"
    try:
        shown, highlighted = classify_in_browser(port, text, tmp_path / "app.png")
    finally:
        proc.terminate()
        proc.wait(30)
    predictor = load_predictor(run / "model", threads=1)
    assert shown == predictor.decide(predictor.predict_proba([text]))[0]
    # the token attributions appear: the words of the typed text (or their word pieces), coloured
    assert highlighted and all(token and token in text for token in highlighted)
    attributed = explain(predictor, text, int(predictor.predict_proba([text])[0].argmax()))
    assert len(highlighted) == sum(1 for _, score in attributed.as_highlights() if score is not None)
    assert (tmp_path / "app.png").stat().st_size > 10_000
