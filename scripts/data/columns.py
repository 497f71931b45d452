"""Which columns hold the text and the labels: given by the user, or guessed from common names, with the
closest real column suggested when a given one is missing; several text columns joined into one text."""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import pandas as pd

from scripts.common.console import say
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
LABEL_NAMES = (
    "label",
    "labels",
    "class",
    "category",
    "target",
    "v1",
    "sentiment",
    "y",
    "emotion",
    "topic",
    "score",
    "is_duplicate",
    "quality",
)
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


# Pairs by name: the columns of well-known pair datasets (GLUE, SNLI/MNLI, QQP, patent phrases, retrieval).
PAIR_NAMES = (
    ("premise", "hypothesis"),
    ("question", "sentence"),
    ("question1", "question2"),
    ("sentence1", "sentence2"),
    ("query", "passage"),
    ("query", "document"),
    ("anchor", "target"),
    ("anchor", "positive"),
    ("text", "text_pair"),
)
SUFFIXES = (("1", "2"), ("a", "b"), ("A", "B"))


def _twin(a: str, b: str) -> bool:
    """Whether two column names differ only by a pair suffix: question1/question2, text_a/text_b, #1 String/
    #2 String, sentence_A/sentence_B. A letter must stand alone (text_a, not "cat"/"cbt")."""
    if len(a) != len(b) or a == b:
        return False
    where = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(where) != 1:
        return False
    i = where[0]
    if (a[i], b[i]) not in SUFFIXES:
        return False
    if a[i].isdigit():
        return True
    alone = lambda j: j < 0 or j >= len(a) or not a[j].isalnum()  # noqa: E731
    return alone(i - 1) and alone(i + 1)


def _texty(frame: pd.DataFrame, column: str) -> float:
    """The mean length of a column's cells if it holds free text (mostly distinct, not numbers, ids or a
    handful of label values), else 0."""
    values = frame[column].dropna().astype(str).str.strip()
    if values.empty or values.map(lambda v: v.replace(".", "", 1).lstrip("-").isdigit()).mean() > 0.5:
        return 0.0
    if values.nunique() < 0.5 * len(values) or values.str.len().mean() < 8:
        return 0.0
    return float(values.str.len().mean())


def find_pair(frame: pd.DataFrame, exclude: set[str]) -> tuple[list[str], str] | None:
    """Two text columns that form a pair, by name (a dataset's usual pair names, or names that differ only by
    a suffix), and why; the longest texts win among several candidates (MRPC's #1 String/#2 String over
    its #1 ID/#2 ID)."""
    columns = [c for c in frame.columns if c not in exclude]
    lower = {str(c).lower(): c for c in columns}
    for first, second in PAIR_NAMES:
        if (
            first in lower
            and second in lower
            and min(_texty(frame, lower[first]), _texty(frame, lower[second]))
        ):
            return [lower[first], lower[second]], f"the usual pair names {first!r} and {second!r}"
    candidates = [
        (min(_texty(frame, a), _texty(frame, b)), [a, b])
        for i, a in enumerate(columns)
        for b in columns[i + 1 :]
        if _twin(str(a), str(b))
    ]
    candidates = [c for c in candidates if c[0] > 0]
    if not candidates:
        return None
    _, pair = max(candidates, key=lambda c: c[0])
    return pair, f"two text columns named alike ({pair[0]!r}, {pair[1]!r})"


def choose_columns(
    frame: pd.DataFrame, text_column: Any, label_column: Any, text_pair: Any = "auto"
) -> tuple[list[str], list[str]]:
    """Resolve text and label columns ("auto" = guessed by name, then by shape). A pair of text columns is
    found by name (find_pair) unless text_pair=False; several text columns given are a pair when two
    (text_pair auto or True), joined with newlines otherwise."""
    columns = list(frame.columns)
    if len(columns) < 2:
        raise UserError(
            f"only one column ({columns[0]!r}) found: a training file needs a text column and a label "
            "column; if the file has more, the separator is probably wrong: set separator=... "
            "(e.g. separator=';')"
        )
    labels = label_column if isinstance(label_column, list) else [label_column]
    texts = text_column if isinstance(text_column, list) else [text_column]
    if texts == ["auto"] and text_pair is not False:
        named_label = _guess(columns, LABEL_NAMES, set()) if labels == ["auto"] else None
        found = find_pair(frame, set(labels) | {named_label})
        if found is not None:
            texts = found[0]
            say(
                f"text columns: the pair {texts[0]!r} + {texts[1]!r} ({found[1]}); each row is encoded as a "
                "pair of texts. text_pair=False reads one text column instead"
            )
    if texts == ["auto"]:
        guess = _guess(columns, TEXT_NAMES, set(labels))
        if guess is None:  # the column with the longest strings
            lengths = {c: frame[c].dropna().astype(str).str.len().mean() for c in columns if c not in labels}
            guess = max(lengths, key=lambda c: lengths[c] if lengths[c] == lengths[c] else -1)
        texts = [guess]
    if labels == ["auto"]:
        guess = _guess(columns, LABEL_NAMES, set(texts))
        scores = numeric_targets(frame, set(texts)) if guess is None else []
        if len(scores) > 1:  # several numeric columns, none named like a label: one target each
            labels = scores  # said by label_reading, with the task it makes
        else:
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


def _id_like(frame: pd.DataFrame, column: str) -> bool:
    name = str(column).lower()
    if name in ("id", "idx", "index") or name.endswith(("_id", " id", "id_")):
        return True
    values = pd.to_numeric(frame[column], errors="coerce").dropna()
    return bool(
        len(values) > 2 and values.is_unique and (values % 1 == 0).all() and values.is_monotonic_increasing
    )


def numeric_targets(frame: pd.DataFrame, exclude: set[str]) -> list[str]:
    """Columns of numbers (not 0/1 flags, not ids) that could be regression targets, in file order."""
    found = []
    for column in frame.columns:
        if column in exclude:
            continue
        raw = frame[column].dropna().astype(str).str.strip()
        raw = raw[raw != ""]
        values = pd.to_numeric(raw, errors="coerce")
        if raw.empty or values.isna().any() or set(values.unique()) <= {0, 1} or _id_like(frame, column):
            continue
        found.append(column)
    return found


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
