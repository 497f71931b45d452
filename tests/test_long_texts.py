"""long_texts=chunks: long texts read whole in overlapping windows on every architecture's tokenizer, the
window scores pooled per text the same way in validation, eval, predict, ONNX, the app's explanations and
the card's snippet, for all three tasks."""

from __future__ import annotations

import numpy as np
import pytest

from scripts.model import truncation, windows
from tests.test_truncation import long_texts
from tests.tiny_models import ARCHITECTURES, build

MAX_LEN = 24


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("windows")
    return {arch: AutoTokenizer.from_pretrained(build(arch, root / arch)) for arch in ARCHITECTURES}


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("overlap", [0, 5])
def test_windows_fit_cover_the_whole_text_and_overlap(arch, overlap, tokenizers):
    tokenizer = tokenizers[arch]
    room = truncation.room(tokenizer, MAX_LEN)
    for text in long_texts():
        pieces = windows.windows(text, tokenizer, MAX_LEN, overlap)
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if n <= room:
            assert pieces == [text]
            continue
        assert len(pieces) >= 2
        spans = windows.spans(text, tokenizer, MAX_LEN, overlap)
        assert [text[a:b] for a, b in spans] == pieces
        for piece in pieces:
            assert len(tokenizer(piece, add_special_tokens=False)["input_ids"]) <= room  # each one fits
        assert not text[: spans[0][0]].strip() and not text[spans[-1][1] :].strip()  # start to end
        for (a, b), (c, _) in zip(spans, spans[1:]):
            assert a < c and not text[b:c].strip()  # in order, no text skipped between windows
            if overlap:
                assert c < b  # consecutive windows share text


def test_the_card_snippet_is_the_function_quickfit_uses(tokenizers):
    namespace: dict = {}
    exec(windows.card_snippet(MAX_LEN, 5), namespace)
    tokenizer = tokenizers["bert"]
    for text in long_texts():
        assert namespace["windows"](text, tokenizer) == windows.windows(text, tokenizer, MAX_LEN, 5)


def test_split_caps_windows_evenly_and_pool_averages(tokenizers):
    tokenizer = tokenizers["bert"]
    texts = long_texts()
    pieces, owners = windows.split(texts, tokenizer, MAX_LEN, 5)
    capped, capped_owners = windows.split(texts, tokenizer, MAX_LEN, 5, cap=2)
    assert np.bincount(capped_owners).max() == 2 and np.bincount(owners).max() > 2
    for i in range(len(texts)):
        mine = [p for p, o in zip(pieces, owners) if o == i]
        kept = [p for p, o in zip(capped, capped_owners) if o == i]
        assert kept[0] == mine[0] and kept[-1] == mine[-1]  # first and last window kept
    logits = np.arange(len(pieces) * 3, dtype=np.float32).reshape(-1, 3)
    pooled = windows.pool(logits, owners, len(texts))
    for i in range(len(texts)):
        np.testing.assert_allclose(pooled[i], logits[owners == i].mean(axis=0), rtol=1e-6)


def test_the_cap_keeps_the_cost_within_budget():
    room, overlap = 254, 63
    lengths = [40] * 80 + [300] * 15 + [5000] * 5
    cap, ratio = windows.choose_cap(lengths, room, overlap)
    assert cap >= 2 and ratio <= windows.COST_BUDGET
    counts = np.minimum(windows.window_counts(lengths, room, overlap), cap + 1)
    over = (
        np.where(counts > 1, counts * room, np.minimum(lengths, room)).sum() / np.minimum(lengths, room).sum()
    )
    assert over > windows.COST_BUDGET or cap + 1 > windows.window_counts(lengths, room, overlap).max()
    assert windows.choose_cap([10, 20], room, overlap)[0] == 1  # nothing long: no windows


@pytest.mark.parametrize(
    ("setting", "share", "fast", "mode"),
    [
        ("auto", 45.0, True, "chunks"),
        ("auto", 12.0, True, "truncate"),  # Reuters R8's share: windows measured no better there
        ("chunks", 0.0, True, "chunks"),
        ("truncate", 50.0, True, "truncate"),
        ("auto", 50.0, False, "truncate"),
    ],
)
def test_auto_reads_in_windows_when_many_training_texts_are_long(setting, share, fast, mode):
    chosen, why = windows.choose(setting, share, fast)
    assert chosen == mode and why


# ------------------------------------------------------------------ trained runs, all three tasks

from tests.conftest import FILLER  # noqa: E402


def lengthened(frame, seed: int = 0):
    """The synthetic texts behind a filler prefix: the words that give the class away often sit past the
    first window, so only a model that reads the whole text can see them."""
    import random

    rng = random.Random(seed)
    return frame.assign(
        text=[
            " ".join(rng.choice(FILLER) for _ in range(rng.randint(5, 60))) + " " + t for t in frame["text"]
        ]
    )


def long_csv(path, task: str):
    from tests.conftest import make_frame, make_multilabel_frame

    if task == "multilabel":
        frame = make_multilabel_frame(120)
        frame = frame.assign(labels=frame["labels"].map(",".join))
    else:
        frame = make_frame(
            {"ham": 60, "spam": 40} if task == "binary" else {"sport": 40, "money": 40, "food": 40}
        )
    lengthened(frame).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def long_runs(tiny_model, tmp_path_factory):
    from tests.helpers import tiny_args, train_run

    root = tmp_path_factory.mktemp("long_runs")
    runs = {}
    for task in ("binary", "multiclass", "multilabel"):
        args = tiny_args(tiny_model, root / task / "out") + ["max_seq_length=24", "num_train_epochs=2"]
        runs[task] = train_run(long_csv(root / f"{task}.csv", task), args)
    return runs


def long_text(run) -> str:
    import pandas as pd

    texts = pd.read_csv(run / "splits" / "test.csv", keep_default_na=False)["text"].tolist()
    return max(texts, key=len)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_a_run_on_long_texts_reads_them_in_windows_and_scores_them_whole(long_runs, task):
    """Training saw windows, validation was pooled per text (the saved model reproduced it, else training
    fails), and the predictor averages the window logits of every long text."""
    import json

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from scripts.model.inference import load_predictor

    run = long_runs[task]
    record = json.loads((run / "run.json").read_text())
    assert record["long_texts"]["mode"] == "chunks"
    import pandas as pd

    train_rows = len(pd.read_csv(run / "splits" / "train.csv", keep_default_na=False))
    assert record["long_texts"]["training_windows"] > train_rows  # long texts gave several windows each
    predictor = load_predictor(run / "model", threads=1)
    text = long_text(run)
    pieces = windows.windows(text, predictor.tokenizer, 24, predictor.meta["window_overlap"])
    assert len(pieces) >= 2
    model = AutoModelForSequenceClassification.from_pretrained(run / "model")
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    import torch

    with torch.no_grad():
        by_window = [model(**tokenizer(p, return_tensors="pt")).logits[0].numpy() for p in pieces]
    # averaged weighted by each window's tokens: a short last window weighs what it holds
    weights = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in pieces]
    assert len(set(weights)) > 1  # the last window is shorter: the weighting is tested
    expected = np.average(by_window, axis=0, weights=weights)
    np.testing.assert_allclose(predictor.predict_logits([text])[0], expected, atol=1e-5)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_eval_predict_and_the_app_score_long_texts_whole(long_runs, task):
    import pandas as pd

    from scripts import app, evaluate
    from scripts.common.errors import run_cli
    from scripts.model.inference import load_predictor

    run = long_runs[task]
    assert run_cli(evaluate.main, ["--run", str(run)]) == 0
    scored = pd.read_csv(run / "eval" / "predictions.csv", keep_default_na=False)
    predictor = load_predictor(run / "model", threads=1)
    probs = predictor.predict_proba(scored["text"].tolist())
    columns = [f"prob_{label}" for label in predictor.labels]
    np.testing.assert_allclose(scored[columns].to_numpy(), probs, atol=2e-6)
    text = long_text(run)
    shown, _, highlights = app.classifier(predictor)(text)
    np.testing.assert_allclose(list(shown.values()), predictor.predict_proba([text])[0], atol=1e-6)
    assert "".join(fragment for fragment, _ in highlights) == text  # attributions over the whole text


def test_explanations_span_every_window_and_stay_complete(long_runs):
    from scripts.evaluation.explain import explain
    from scripts.model.inference import load_predictor

    run = long_runs["multiclass"]
    predictor = load_predictor(run / "model", threads=1)
    text = long_text(run)
    cuts = windows.spans(text, predictor.tokenizer, 24, predictor.meta["window_overlap"])
    attribution = explain(predictor, text, target=0)
    assert "".join(fragment for fragment, _ in attribution.fragments) == text
    logits = predictor.predict_logits([text])[0].astype(np.float64)
    assert abs(attribution.score - (logits[0] - np.delete(logits, 0).mean())) < 1e-4  # the pooled score
    assert abs(attribution.total - (attribution.score - attribution.baseline_score)) < 0.05  # completeness
    cursor, late = 0, 0
    for fragment, score in attribution.fragments:
        late += score is not None and cursor >= cuts[0][1]  # tokens past the first window are explained
        cursor += len(fragment)
    assert late > 0


@pytest.fixture(scope="module")
def carded_long_runs(long_runs):
    from scripts import card, export
    from scripts.common.errors import run_cli

    for run in long_runs.values():
        assert run_cli(export.main, ["--run", str(run)]) == 0
        assert run_cli(card.main, ["--run", str(run)]) == 0
    return long_runs


def run_snippet(card: str, section: str, text: str) -> str:
    """The card's snippet under `section`, on `text` instead of its example; its last printed line."""
    import json
    import re
    import subprocess
    import sys
    from pathlib import Path

    snippet = re.search(re.escape(section) + r".*?```python\n(.*?)```", card, re.S).group(1)
    example = re.findall(r'windows\(("[^"]*")', snippet)
    assert len(set(example)) == 1  # the card's example text, read in windows
    snippet = snippet.replace(example[0], json.dumps(text))
    project = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, cwd=project, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


SNIPPET_CASES = [
    pytest.param("multiclass", "## How to use"),
    pytest.param("multiclass", "With ONNX Runtime", marks=pytest.mark.slow),
    pytest.param("binary", "## How to use", marks=pytest.mark.slow),
    pytest.param("binary", "With ONNX Runtime", marks=pytest.mark.slow),
    pytest.param("multilabel", "## How to use", marks=pytest.mark.slow),
    pytest.param("multilabel", "With ONNX Runtime", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("task", "section"), SNIPPET_CASES)
def test_the_cards_snippets_give_make_predict_s_answer_for_a_long_text(carded_long_runs, task, section):
    import ast

    from scripts.model.inference import load_predictor

    run = carded_long_runs[task]
    card = (run / "model" / "README.md").read_text()
    assert "read in overlapping windows" in card and "long_texts` chunks" in card
    text = long_text(run)
    printed = ast.literal_eval(run_snippet(card, section, text))
    predictor = load_predictor(run / "model", threads=1)
    probs = predictor.predict_proba([text])
    if task == "multilabel":  # the snippet prints the labels at their tuned thresholds
        assert printed == list(predictor.decide(probs)[0])
        return
    shown = {row["label"]: row["score"] for row in printed}
    expected = dict(zip(predictor.labels, probs[0].tolist()))
    assert shown.keys() == expected.keys()
    for label, p in expected.items():
        assert abs(shown[label] - p) <= 2e-4, (label, shown, expected)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_onnx_reads_long_texts_as_pytorch_does(carded_long_runs, task):
    from scripts.model.inference import load_predictor
    from scripts.model.onnx_predictor import load_onnx_predictor

    run = carded_long_runs[task]
    texts = [long_text(run), "short text", ""]
    onnx = load_onnx_predictor(run / "onnx", threads=1).predict_logits(texts)
    torch = load_predictor(run / "model", threads=1).predict_logits(texts)
    np.testing.assert_allclose(onnx, torch, atol=1e-4)


def test_the_frozen_probe_reads_long_texts_whole_in_a_windowed_run(long_runs, tiny_model):
    """The probe reference of a run that reads long texts in windows embeds each window and averages them
    (weighted by their tokens), as the model does; not the text's head alone."""
    import json

    from transformers import AutoTokenizer

    from scripts.evaluation import frozen_probe
    from scripts.model import windows

    run = long_runs["binary"]
    record = json.loads((run / "run.json").read_text())
    assert record["long_texts"]["mode"] == "chunks"
    text, overlap, max_len = long_text(run), int(record["long_texts"]["window_overlap"]), 24
    whole = frozen_probe.embed(str(tiny_model), [text], max_len, overlap=overlap)[0]
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    pieces = windows.windows(text, tokenizer, max_len, overlap)
    assert len(pieces) > 1
    each = frozen_probe.embed(str(tiny_model), pieces, max_len)
    weights = windows.text_tokens(pieces, tokenizer).astype(float)
    expected = (each * weights[:, None]).sum(0) / weights.sum()
    np.testing.assert_allclose(whole, expected / np.linalg.norm(expected), atol=1e-5)
    head = frozen_probe.embed(str(tiny_model), [text], max_len)[0]
    assert not np.allclose(whole, head, atol=1e-3)
    from scripts import evaluate

    rows = evaluate.load_rows(run, None)
    info = evaluate.reference_outputs(rows, run, [])["frozen_probe"]
    assert "windows" in info["pooling"]
