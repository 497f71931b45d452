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
    if series.dropna().map(lambda v: isinstance(v, (list, tuple))).any():  # a list column (Parquet/Arrow)
        return True
    values = series.dropna().astype(str).str.strip()
    return bool(values.str.startswith("[").any() or values.str.contains(delimiter, regex=False).any())


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
