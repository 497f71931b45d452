"""Shared fixtures: a tiny random-weight BERT and small synthetic datasets built at test time."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "disabled")

PROJECT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QUICKFIT_SHARED", PROJECT.parent / "shared")) / "datasets"

# Words the synthetic classes are made of; every one is in the tiny vocabulary.
TOPICS = {
    "spam": ["free", "win", "prize", "cash", "claim", "urgent", "call", "now", "offer", "txt"],
    "ham": ["see", "you", "later", "home", "dinner", "love", "ok", "tonight", "thanks", "friend"],
    "sport": ["goal", "match", "team", "score", "coach", "league", "season", "player", "win", "cup"],
    "money": ["bank", "stock", "market", "price", "trade", "profit", "shares", "rate", "cash", "fund"],
    "food": ["pizza", "bread", "cheese", "cook", "dinner", "taste", "salad", "soup", "sweet", "lunch"],
}
FILLER = ["the", "a", "and", "to", "of", "is", "it", "for", "on", "with", "my", "we"]


def tiny_vocab() -> list[str]:
    words = sorted({w for ws in TOPICS.values() for w in ws} | set(FILLER))
    return (
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words + list("abcdefghijklmnopqrstuvwxyz0123456789")
    )


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random-weight BERT (hidden 32, 2 layers), saved as a base model without a head."""
    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny_bert")


@pytest.fixture(scope="session")
def finished_run(tiny_model, tmp_path_factory) -> Path:
    """One finished tiny binary run (60 ham, 30 spam, 1 epoch), shared by the modules that only read a run
    (bad input, hostile input)."""
    from tests.helpers import tiny_args, train_run, write_binary_csv

    root = tmp_path_factory.mktemp("finished_run")
    return train_run(
        write_binary_csv(root / "b.csv", 60, 30),
        tiny_args(tiny_model, root / "outputs") + ["num_train_epochs=1"],
    )


@pytest.fixture(scope="session")
def binary_run(tiny_model, tmp_path_factory) -> Path:
    """One finished tiny binary run (300 ham, 100 spam, 3 epochs), shared by evaluation and prediction."""
    from tests.helpers import tiny_args, train_run, write_binary_csv

    root = tmp_path_factory.mktemp("binary_run")
    return train_run(write_binary_csv(root / "sms.csv"), tiny_args(tiny_model, root / "outputs"))


def build_tiny_bert(folder: Path, **config_changes) -> Path:
    """The tiny BERT of `tiny_model` in `folder`, with any BertConfig values changed."""
    from tests.tiny_models import tiny_bert

    folder.mkdir(parents=True)
    return tiny_bert(folder, **config_changes)


def synthetic_texts(topic: str, rng: random.Random, n_words: int | None = None) -> str:
    n = n_words or rng.randint(4, 14)
    words = [rng.choice(TOPICS[topic]) if rng.random() < 0.6 else rng.choice(FILLER) for _ in range(n)]
    return " ".join(words)


def make_frame(classes: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """Rows of text whose words give the class away, `classes` = name -> count; unique texts."""
    rng = random.Random(seed)
    rows, seen = [], set()
    for name, count in classes.items():
        made = 0
        while made < count:
            text = synthetic_texts(name, rng)
            if text in seen:
                continue
            seen.add(text)
            rows.append({"text": text, "label": name})
            made += 1
    rng.shuffle(rows)
    return pd.DataFrame(rows)


def make_multilabel_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Texts mixing one or two topics; labels = the topics used."""
    rng = random.Random(seed)
    names = ["sport", "money", "food"]
    rows, seen = [], set()
    while len(rows) < n:
        chosen = sorted(rng.sample(names, rng.choice([1, 1, 2])))
        text = " ".join(synthetic_texts(t, rng, rng.randint(3, 7)) for t in chosen)
        if text in seen:
            continue
        seen.add(text)
        rows.append({"text": text, "labels": chosen})
    return pd.DataFrame(rows)


@pytest.fixture
def fast_args(tiny_model, tmp_path) -> list[str]:
    """Overrides that train the tiny model quickly into a test-owned outputs folder."""
    from tests.helpers import tiny_args

    return tiny_args(tiny_model, tmp_path / "outputs")


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/datasets is beside the project in CI)")
    return path


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def make_regression_frame(n: int = 200, seed: int = 0, targets: int = 1) -> pd.DataFrame:
    """Texts whose share of "spam" words sets a score (plus a little noise): `excerpt` and `target`, as in
    CommonLit; with several targets, columns `cohesion`, `syntax`, ... as in Feedback Prize ELL."""
    rng = random.Random(seed)
    rows, seen = [], set()
    names = ["cohesion", "syntax", "vocabulary"][:targets]
    while len(rows) < n:
        k = rng.randint(4, 14)
        share = rng.random()
        words = [
            rng.choice(TOPICS["spam"]) if rng.random() < share else rng.choice(TOPICS["ham"])
            for _ in range(k)
        ]
        text = " ".join(words)
        if text in seen:
            continue
        seen.add(text)
        spam = sum(w in TOPICS["spam"] for w in words) / k
        row = {"excerpt": text}
        if targets == 1:
            row["target"] = round(4 * spam - 2 + rng.gauss(0, 0.1), 3)
        else:
            for j, name in enumerate(names):
                row[name] = round(1 + 4 * (spam if j % 2 == 0 else 1 - spam) + rng.gauss(0, 0.1), 2)
        rows.append(row)
    return pd.DataFrame(rows)


def make_pair_frame(n: int = 200, seed: int = 0, score: bool = False) -> pd.DataFrame:
    """Question pairs as in Quora (`question1`, `question2`, `is_duplicate`): a duplicate shares its topic;
    with score=True a 0-5 similarity (`score`), as in STS-B."""
    rng = random.Random(seed)
    topics = list(TOPICS)
    rows, seen = [], set()
    while len(rows) < n:
        a_topic = rng.choice(topics)
        same = rng.random() < 0.5
        b_topic = a_topic if same else rng.choice([t for t in topics if t != a_topic])
        a, b = synthetic_texts(a_topic, rng), synthetic_texts(b_topic, rng)
        if (a, b) in seen or a == b:
            continue
        seen.add((a, b))
        row = {"question1": a, "question2": b}
        if score:
            row["score"] = round((4.2 if same else 0.8) + rng.uniform(-0.8, 0.8), 2)
        else:
            row["is_duplicate"] = int(same)
        rows.append(row)
    return pd.DataFrame(rows)
