"""Which columns hold the text and the labels: given by the user, or guessed from common names, with the
closest real column suggested when a given one is missing; several text columns joined into one text."""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import pandas as pd

from scripts.common.errors import UserError

TEXT_NAMES = (
    "text",
    "sentence",
    "message",
    "v2",
    "review",
    "comment_text",
    "comment",
    "content",
    "body",
    "tweet",
    "document",
    "sms",
    "title",
)
LABEL_NAMES = ("label", "labels", "class", "category", "target", "v1", "sentiment", "y", "emotion", "topic")
MULTI_TEXT_JOIN = "\n"


def missing_column(name: str, columns: list[str], role: str) -> UserError:
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.5) or [
        c for c in columns if c.lower() == name.lower()
    ]
    hint = f"did you mean {close[0]!r}? " if close else ""
    return UserError(
        f"{role} column {name!r} not found: {hint}columns are {', '.join(map(repr, columns))}; "
        f"set {role}_column=..."
    )


def _guess(columns: list[str], names: tuple[str, ...], exclude: set[str]) -> str | None:
    lower = {c.lower(): c for c in columns if c not in exclude}
    return next((lower[n] for n in names if n in lower), None)


def choose_columns(frame: pd.DataFrame, text_column: Any, label_column: Any) -> tuple[list[str], list[str]]:
    """Resolve text and label columns ("auto" = guessed by name, then by shape)."""
    columns = list(frame.columns)
    if len(columns) < 2:
        raise UserError(
            f"only one column ({columns[0]!r}) found: a training file needs a text column and a label "
            "column; if the file has more, the separator is probably wrong: set separator=... "
            "(e.g. separator=';')"
        )
    labels = label_column if isinstance(label_column, list) else [label_column]
    texts = text_column if isinstance(text_column, list) else [text_column]
    if texts == ["auto"]:
        guess = _guess(columns, TEXT_NAMES, set(labels))
        if guess is None:  # the column with the longest strings
            lengths = {c: frame[c].dropna().astype(str).str.len().mean() for c in columns if c not in labels}
            guess = max(lengths, key=lambda c: lengths[c] if lengths[c] == lengths[c] else -1)
        texts = [guess]
    if labels == ["auto"]:
        guess = _guess(columns, LABEL_NAMES, set(texts))
        if guess is None:  # the column with the fewest distinct values
            others = [c for c in columns if c not in texts]
            guess = min(others, key=lambda c: frame[c].nunique())
        labels = [guess]
    for name in texts:
        if name not in columns:
            raise missing_column(name, columns, "text")
    for name in labels:
        if name not in columns:
            raise missing_column(name, columns, "label")
    if set(texts) & set(labels):
        raise UserError(
            f"the same column is used for text and label ({sorted(set(texts) & set(labels))}); "
            "set text_column and label_column"
        )
    return texts, labels


def join_text(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The text of each row: one column, or several joined with newlines; "" where there is none."""

    def clean(value: Any) -> str:
        return "" if value is None or value != value else str(value).strip()

    for column in columns:
        check_scalar(frame[column], column, "text")
    if len(columns) == 1:
        return frame[columns[0]].map(clean)
    return frame[columns].apply(lambda row: MULTI_TEXT_JOIN.join(t for t in map(clean, row) if t), axis=1)


NESTED = (dict, list, tuple, bytes, bytearray, memoryview)
NESTED_OR_ARRAY = (*NESTED, np.ndarray)


def check_scalar(values: pd.Series, column: str, role: str, allow_flat_lists: bool = False) -> None:
    """A text or label cell that is a struct, a list, a nested list or bytes (Parquet, Arrow, JSON Lines
    objects) would be read as its Python repr: refused with its type named."""
    for value in values:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, NESTED):
            continue
        flat = isinstance(value, (list, tuple)) and not any(
            isinstance(v, (*NESTED, np.ndarray)) for v in value
        )
        if allow_flat_lists and flat:
            continue
        kind = "nested list" if isinstance(value, (list, tuple)) and not flat else type(value).__name__
        raise UserError(
            f"{role} column {column!r} holds {kind} values (e.g. {str(value)[:60]!r}), not "
            f"{'text' if role == 'text' else 'label names'}; choose another column with "
            f"{role}_column=..., or flatten it into plain values first"
        )
