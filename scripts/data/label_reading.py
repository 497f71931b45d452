"""How label columns are read, decided once for every split and said with the reason: classes, label sets
(delimited parts that combine, lists, 0/1 columns) or regression targets (fractions, many distinct numbers,
several numeric columns); each split's rows as the canonical frame (`text`, a pair's `text_b`, `labels`);
GLUE-style unlabelled splits (every label -1) left out, never read as a class."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scripts.common.console import say
from scripts.common.errors import UserError
from scripts.data.columns import check_scalar, join_text, missing_column
from scripts.data.labels import (
    looks_multilabel,
    numeric_reading,
    onehot_labels,
    regression_targets,
    single_labels,
    split_multi,
)


def unlabelled_left_out(
    frames: dict[str, pd.DataFrame], report: dict[str, Any], task: str
) -> dict[str, pd.DataFrame]:
    """A split without a single label (GLUE's test splits: every label -1) is unlabelled data, never a
    class: left out and said. The training split must have labels."""
    kept = {}
    for split, frame in frames.items():
        if split not in ("all", "train") and len(frame) and frame["labels"].isna().all():
            report.setdefault("splits_left_out", []).append(f"{split} (no labels)")
            say(f"  split {split!r} has no labels (all missing or -1): left out, it cannot score a model")
            continue
        kept[split] = frame
    return kept


FLAGS = {"0", "1", "0.0", "1.0", "true", "false", "", "nan", "none"}  # one-hot label cells


def label_reading(raw: dict[str, pd.DataFrame], label_cols: list[str], task: str, delimiter: str) -> str:
    """How the label column(s) are read, decided once over every split (a split must never be read another
    way than the others) and said with the reason: several numeric columns are regression targets, 0/1
    columns multi-label; one column is multi-label when its delimited parts combine, a score (regression)
    when it holds fractions or many distinct numbers, else classes."""
    if task != "auto":
        return task
    if len(label_cols) > 1:  # 0/1 flags: multi-label; numbers in every column: targets; mixed: refused later
        values = {c: pd.concat([f[c] for f in raw.values() if c in f.columns]).dropna() for c in label_cols}
        flags = [set(v.astype(str).str.strip().str.lower()) <= FLAGS for v in values.values()]
        numbers = all(pd.to_numeric(v, errors="coerce").notna().all() for v in values.values())
        if any(flags) or not numbers:
            return task
        say(
            f"label columns {label_cols}: numbers, not 0/1 flags -> regression with {len(label_cols)} targets"
        )
        return "regression"
    column = pd.concat(
        [
            f[label_cols[0]]
            for f in raw.values()
            if label_cols[0] in f.columns and not all_minus_one(f[label_cols[0]])
        ]
    )
    multilabel = looks_multilabel(column, delimiter)
    numeric = numeric_reading(column)
    if numeric is not None and not multilabel:
        kind, why = numeric
        say(
            f"label column {label_cols[0]!r}: {why} -> "
            + (
                "regression (a score per text; task=multiclass reads them as classes)"
                if kind == "regression"
                else "classification"
            )
        )
        return "regression" if kind == "regression" else task
    values = column.dropna().astype(str).str.strip()
    # Cells holding the delimiter, shown whichever way the column is read (JSON lists excluded).
    delimited = values[values.str.contains(delimiter, regex=False) & ~values.str.startswith("[")]
    if not multilabel:
        if len(delimited):
            say(
                f"label column {label_cols[0]!r} read as single-label although {len(delimited)} cells hold "
                f"{delimiter!r} (e.g. {delimited.iloc[0]!r}): their parts never stand alone or combine "
                "otherwise, so they are class names; set task=multilabel if they are label sets"
            )
        return task
    if len(delimited):
        say(
            f"label column {label_cols[0]!r} read as multi-label: {len(delimited)} of {len(values)} cells "
            f"hold {delimiter!r} (e.g. {delimited.iloc[0]!r}); if {delimiter!r} is part of a class name, set "
            "task=multiclass (or another label_delimiter)"
        )
    return "multilabel"


def text_and_labels(
    frame: pd.DataFrame,
    texts: list[str],
    label_cols: list[str],
    task: str,
    delimiter: str,
    pair: bool = False,
) -> pd.DataFrame:
    """One split's canonical frame: `text` (and a pair's `text_b`) and `labels` (a name, a tuple of names, a
    tuple of targets, or None)."""
    missing = [c for c in texts + label_cols if c not in frame.columns]
    if missing:
        raise missing_column(missing[0], list(frame.columns), "text" if missing[0] in texts else "label")
    for column in label_cols:
        check_scalar(frame[column], column, "label", allow_flat_lists=len(label_cols) == 1)
    if pair:
        text = {"text": join_text(frame, texts[:1]).values, "text_b": join_text(frame, texts[1:]).values}
    else:
        text = {"text": join_text(frame, texts).values}
    if task == "regression":
        targets = regression_targets(frame, label_cols)
        if all(all_minus_one(frame[c]) for c in label_cols):  # GLUE's unlabelled test rows
            targets = targets.map(lambda v: None)
        return pd.DataFrame({**text, "labels": targets.values})
    if len(label_cols) > 1:
        labels = onehot_labels(frame, label_cols)
    elif task == "multilabel":  # decided once for the whole column (label_reading)
        labels = frame[label_cols[0]].map(lambda v: split_multi(v, delimiter))
    else:
        column = frame[label_cols[0]].dropna().astype(str).str.strip()
        if (column.str.startswith("[") & column.str.endswith("]")).any():
            raise UserError(
                f"task={task} but label column {label_cols[0]!r} holds lists like {column.iloc[0]!r}; "
                "set task=multilabel (or auto)"
            )
        labels = single_labels(frame[label_cols[0]])
        if all_minus_one(frame[label_cols[0]]):  # GLUE's unlabelled test rows
            labels = labels.map(lambda v: None)
    return pd.DataFrame({**text, "labels": labels.values})


def all_minus_one(values: pd.Series) -> bool:
    """Every label of a split is -1: the Hub's mark of an unlabelled split (GLUE's test splits)."""
    present = values.dropna().astype(str).str.strip()
    return bool(len(present)) and present.isin(["-1", "-1.0"]).all()
