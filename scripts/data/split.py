"""Stratified train/validation/test split with the seed; multi-label uses iterative stratification.

A dataset's own splits are honoured: only what is missing is carved out of its training rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from scripts.common.errors import UserError
from scripts.data.dataset import Dataset

SPLITS = ("train", "validation", "test")


class Splits(dict):
    """train/validation/test frames, with `report`: which splits were given and which were carved."""

    def __init__(self, frames: dict[str, pd.DataFrame], report: dict):
        super().__init__(frames)
        self.report = report


def carve(
    frame: pd.DataFrame,
    fraction: float,
    dataset: Dataset,
    seed: int,
    what: str,
    earlier: dict[str, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `fraction` of the rows off `frame`, stratified by label; single-label, at least one row a
    class (8 rows a class of 8 classes: 10 % is 7 rows, which no stratified split can hold). `earlier`:
    the splits carved before this one, named in the message when a class ran short."""
    kind = dataset.kind
    if kind.stratify == "iterative":
        from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

        y = kind.encode(frame["labels"], dataset.label_names)
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        keep, out = next(splitter.split(np.zeros(len(frame)), y))
        return frame.iloc[keep].reset_index(drop=True), frame.iloc[out].reset_index(drop=True)
    if kind.stratify == "quantile":  # regression: each fifth of the target's range keeps its share
        strata = kind.strata(kind.encode(frame["labels"], dataset.label_names))
        size = max(1, math.ceil(fraction * len(frame)))
        if len(frame) - size < 2:
            raise UserError(
                f"cannot carve a {what} split of {size} rows from {len(frame)}: too few rows; give more "
                "labelled rows or a test/validation file of your own"
            )
        try:
            keep, out = train_test_split(frame, test_size=size, random_state=seed, stratify=strata)
        except ValueError:  # a quantile bin with one row (many equal targets): plain shuffled split
            keep, out = train_test_split(frame, test_size=size, random_state=seed)
        return keep.reset_index(drop=True), out.reset_index(drop=True)
    counts = frame["labels"].value_counts()
    rare = counts[counts < 3]
    if len(rare):
        name, left = rare.index[0], int(rare.iloc[0])
        gone = {part: int((f["labels"] == name).sum()) for part, f in (earlier or {}).items()}
        went = "".join(f", {n} went to the {part} split" for part, n in gone.items() if n)
        raise UserError(
            f"class {name!r} has {left + sum(gone.values())} example(s){went}"
            + (f", leaving {left}" if went else "")
            + f": a stratified {what} split needs at least 3 per class; add examples of {name!r} or drop "
            "that class"
        )
    size = max(math.ceil(fraction * len(frame)), len(counts))
    try:
        keep, out = train_test_split(frame, test_size=size, random_state=seed, stratify=frame["labels"])
    except ValueError as exc:
        raise UserError(
            f"cannot make a stratified {what} split of {len(frame)} rows: {exc}; "
            "use more data or a larger validation_size/test_size"
        ) from exc
    return keep.reset_index(drop=True), out.reset_index(drop=True)


def make_splits(dataset: Dataset, validation_size: float, test_size: float, seed: int) -> Splits:
    """Return train/validation/test frames; their `report` says which were given and which carved."""
    frames = dict(dataset.frames)
    carved = []
    pool = frames.pop("all", None)
    if pool is None:
        pool = frames.pop("train")
    if "test" not in frames:
        if test_size <= 0:
            raise UserError("the dataset has no test split and test_size=0; set test_size (e.g. 0.1)")
        pool, frames["test"] = carve(pool, test_size, dataset, seed, "test")
        carved.append("test")
    if "validation" not in frames:
        if validation_size <= 0:
            raise UserError(
                "the dataset has no validation split and validation_size=0; set validation_size (e.g. 0.1)"
            )
        share = validation_size / (1 - test_size) if carved else validation_size
        earlier = {"test": frames["test"]} if carved else None
        pool, frames["validation"] = carve(pool, share, dataset, seed, "validation", earlier)
        carved.append("validation")
    frames["train"] = pool
    key = dataset.inputs.key  # a text, or a pair and its swap alike
    overlap = set(key(frames["train"])) & (set(key(frames["test"])) | set(key(frames["validation"])))
    if overlap:  # given splits may share texts (or pairs); never let a test row be trained on
        frames["train"] = frames["train"][~key(frames["train"]).isin(overlap)].reset_index(drop=True)
    report = {
        "carved": carved,
        "given": [s for s in SPLITS if s not in carved],
        "sizes": {s: len(frames[s]) for s in SPLITS},
        "train_rows_dropped_as_in_eval": len(overlap),
    }
    return Splits({s: frames[s] for s in SPLITS}, report)
