"""Label cells -> label names: numbers canonicalised, missing-value spellings dropped, multi-label cells
split (delimited, list-like, real lists or 0/1 columns)."""

from __future__ import annotations

import ast
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from scripts.common.errors import UserError

# Label cells that mean "no label": spreadsheet and pandas spellings of a missing or non-finite value.
MISSING_LABELS = {
    "nan",
    "none",
    "null",
    "na",
    "n/a",
    "<na>",
    "nat",
    "inf",
    "-inf",
    "+inf",
    "infinity",
    "-infinity",
    "+infinity",
}


def is_missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return True
    return str(value).strip().lower() in MISSING_LABELS or not str(value).strip()


def is_number(value: str) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except ValueError:
        return False


def canonical_number(value: str) -> str:
    """'1', '1.0' and '1e0' are one label; exact, never through float64 (which merges 9007199254740992
    and 9007199254740993)."""
    number = Decimal(value.strip())
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def split_multi(value: Any, delimiter: str) -> tuple[str, ...] | None:
    if not isinstance(value, (list, tuple)) and is_missing(value):
        return None
    if isinstance(value, (list, tuple)):
        items = value
    else:
        text = str(value).strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                items = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                items = text[1:-1].split(",")
        else:
            items = text.split(delimiter)
    cleaned = tuple(
        sorted({str(i).strip().strip("'\"") for i in items if not is_missing(str(i).strip().strip("'\""))})
    )
    return cleaned or None


def looks_multilabel(series: pd.Series, delimiter: str) -> bool:
    """Lists, list-like cells, or delimited cells whose parts combine (parts_combine)."""
    if series.dropna().map(lambda v: isinstance(v, (list, tuple))).any():  # a list column (Parquet/Arrow)
        return True
    values = series.dropna().astype(str).str.strip()
    if values.str.startswith("[").any():
        return True
    return parts_combine(values, delimiter)


def parts_combine(values: pd.Series, delimiter: str) -> bool:
    """Whether delimited cells are label sets: some part also stands alone as a cell, or appears in more
    than one combination. `Sci/Tech, Health` beside `Sport` and `World` (its parts never alone, never
    combined otherwise) is one class name with a comma in it."""
    cells = {str(v).strip() for v in values}
    delimited = [v for v in cells if delimiter in v]
    if not delimited:
        return False
    alone = {v for v in cells if delimiter not in v}
    combinations: dict[str, int] = {}
    for cell in delimited:
        for part in {p.strip() for p in cell.split(delimiter) if p.strip()}:
            combinations[part] = combinations.get(part, 0) + 1
    return any(part in alone or n > 1 for part, n in combinations.items())


def onehot_labels(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    matrix = {}
    for col in columns:
        raw = frame[col].astype(str).str.strip().str.lower()
        mapped = raw.map(
            {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0, "nan": np.nan, "none": np.nan}
        )
        bad = sorted(set(raw[mapped.isna() & frame[col].notna()]))
        if bad:
            raise UserError(
                f"one-hot label column {col!r} holds values other than 0/1 (e.g. {bad[:3]}); "
                "fix those cells or use one label column with label names"
            )
        matrix[col] = mapped
    onehot = pd.DataFrame(matrix)
    names = onehot.apply(
        lambda row: None if row.isna().any() else tuple(c for c in columns if row[c] == 1), axis=1
    )
    return names


def single_labels(series: pd.Series) -> pd.Series:
    values = series.astype(object).where(series.notna(), None)
    values = values.map(lambda v: None if is_missing(v) else str(v).strip())
    present = values.dropna()
    numeric = present.map(is_number)
    if numeric.any() and not numeric.all():
        words = sorted(set(present[~numeric]))[:3]
        numbers = sorted(set(present[numeric]))[:3]
        raise UserError(
            f"the label column mixes numbers {numbers} and words {words}; "
            "make every label the same kind (fix or drop those rows)"
        )
    if numeric.all() and len(present):
        values = values.map(lambda v: None if is_missing(v) else canonical_number(v))
    return values


def sort_labels(names: set[str]) -> list[str]:
    if names and all(is_number(n) for n in names):
        return sorted(names, key=Decimal)
    return sorted(names)


# A whole-number label column with more distinct values than this, not ids 0..K-1 (or 1..K), is a score.
MANY_WHOLE_NUMBERS = 30


def numeric_reading(values: pd.Series) -> tuple[str, str] | None:
    """How a label column of numbers is read: ("regression" | "classes", why); None when it is not all
    numbers. Fractions, or many distinct whole numbers that are not class ids, are a score; a few whole
    numbers (0/1, 1-5 stars) stay classes, with the hint that regression would treat them as ordered."""
    present = [str(v).strip() for v in values if not is_missing(v)]
    if not present or not all(is_number(v) for v in present):
        return None
    numbers = np.array([float(v) for v in present])
    distinct = np.unique(numbers)
    if (numbers % 1 != 0).any():
        return (
            "regression",
            f"its {len(distinct)} distinct values include fractions (e.g. {distinct[len(distinct) // 2]:g})",
        )
    ids = distinct.min() in (0, 1) and len(distinct) == distinct.max() - distinct.min() + 1
    if len(distinct) > MANY_WHOLE_NUMBERS and not ids:
        return (
            "regression",
            f"{len(distinct)} distinct whole numbers from {distinct.min():g} to {distinct.max():g}",
        )
    hint = (
        f"; they look like ordered ratings ({distinct.min():g}-{distinct.max():g}): task=regression "
        "treats them as a score"
        if 3 <= len(distinct) <= 10 and ids
        else ""
    )
    return "classes", f"{len(distinct)} distinct whole numbers, read as class names{hint}"


def regression_targets(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Each row's targets as a tuple of floats (None when any is missing); a cell that is not a number is
    refused, naming it."""

    def number(value: Any, column: str) -> float | None:
        if is_missing(value):
            return None
        text = str(value).strip()
        if not is_number(text):
            raise UserError(
                f"target column {column!r} holds {text[:40]!r}, not a number: fix or drop that row (or set "
                "task to a classification task)"
            )
        return float(text)

    parts = [frame[c].map(lambda v, c=c: number(v, c)) for c in columns]
    return pd.Series(
        [None if any(v is None for v in row) else tuple(row) for row in zip(*parts)],
        index=frame.index,
        dtype=object,
    )
