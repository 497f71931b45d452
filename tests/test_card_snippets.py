"""The card's usage snippets give make predict's answer on a text longer than max_seq_length, for every
truncation mode (windows: tests/test_long_texts.py) and every snippet: transformers' pipeline, ONNX Runtime
and Simple Transformers. Before, the pipeline snippet of a `head` run read a long text whole (another answer
than predict's) and crashed past the model's positions (512 for BERT)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import PROJECT, TOPICS

MAX_LEN = 12
MODES = ("head", "tail", "head+tail")


@pytest.fixture(scope="module")
def carded_runs(tiny_model, tmp_path_factory):
    """One tiny binary run per truncation mode, most texts cut (max_seq_length 12), exported and carded."""
    from scripts import card, export
    from scripts.common.errors import run_cli
    from tests.helpers import tiny_args, train_run, write_binary_csv

    root = tmp_path_factory.mktemp("snippets")
    csv = write_binary_csv(root / "sms.csv", 80, 40)
    runs = {}
    for mode in MODES:
        args = tiny_args(tiny_model, root / mode.replace("+", "_")) + [
            f"max_seq_length={MAX_LEN}",
            f"truncation={mode}",
            "long_texts=truncate",
            "num_train_epochs=1",
        ]
        runs[mode] = train_run(csv, args)
        assert run_cli(export.main, ["--run", str(runs[mode])]) == 0
        assert run_cli(card.main, ["--run", str(runs[mode])]) == 0
    return runs


def long_text() -> str:
    """About 700 tokens: past max_seq_length, and past the model's positions (a snippet that reads it whole
    crashes)."""
    words = [w for ws in TOPICS.values() for w in ws]
    return " ".join(words[i % len(words)] for i in range(700))


def run_snippet(card: str, section: str, text: str) -> str:
    """The snippet under `section` with the card's example text replaced by `text`: its last printed line."""
    snippet = re.search(re.escape(section) + r".*?```python\n(.*?)```", card, re.S).group(1)
    examples = set(re.findall(r'"(Free entry![^"]*|Your text here)"', snippet))
    assert len(examples) == 1, examples
    snippet = snippet.replace(f'"{examples.pop()}"', json.dumps(text))
    result = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, cwd=PROJECT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


CASES = [
    pytest.param("head", "## How to use"),
    *(pytest.param(m, "## How to use", marks=pytest.mark.slow) for m in ("tail", "head+tail")),
    *(pytest.param(m, "With ONNX Runtime", marks=pytest.mark.slow) for m in MODES),
    *(pytest.param(m, "With Simple Transformers", marks=pytest.mark.slow) for m in MODES),
]


@pytest.mark.parametrize(("mode", "section"), CASES)
def test_every_snippet_gives_predict_s_answer_on_a_long_text(carded_runs, mode, section):
    from scripts.model.inference import load_predictor

    run = carded_runs[mode]
    card = (run / "model" / "README.md").read_text()
    text = long_text()
    predictor = load_predictor(run / "model", threads=1)
    assert len(predictor.tokenizer(text)["input_ids"]) > predictor.model.config.max_position_embeddings
    probs = predictor.predict_proba([text])[0]
    printed = ast.literal_eval(run_snippet(card, section, text))
    if section == "With Simple Transformers":  # it prints the label (argmax)
        assert printed == [predictor.labels[int(np.argmax(probs))]]
        return
    shown = {row["label"]: row["score"] for row in printed}
    assert shown.keys() == set(predictor.labels)
    # the snippet prints 4 decimals; ONNX Runtime's fp32 differs from PyTorch's by up to 1e-4
    tolerance = 5e-5 + (1e-4 if section == "With ONNX Runtime" else 1e-5)
    for label, p in zip(predictor.labels, probs):
        assert abs(shown[label] - p) <= 2 * tolerance, (label, shown, probs)
