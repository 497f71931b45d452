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


def build_tiny_bert(folder: Path, **config_changes) -> Path:
    """The tiny BERT of `tiny_model` in `folder`, with any BertConfig values changed."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True)
    vocab = tiny_vocab()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # BertTokenizerFast(vocab_file=...) ignores the file in transformers 5: load from the folder.
    tokenizer = BertTokenizerFast.from_pretrained(folder)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **config_changes,
    )
    BertModel(config).save_pretrained(folder)
    return folder


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
