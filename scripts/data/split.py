"""Stratified train/validation/test split with the seed; multi-label uses iterative stratification.

A dataset's own splits are honoured: only what is missing is carved out of its training rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from scripts.common.errors import UserError
from scripts.data.dataset import Dataset, encode_labels

SPLITS = ("train", "validation", "test")


class Splits(dict):
    """train/validation/test frames, with `report`: which splits were given and which were carved."""

    def __init__(self, frames: dict[str, pd.DataFrame], report: dict):
        super().__init__(frames)
        self.report = report


def carve(
    frame: pd.DataFrame, fraction: float, dataset: Dataset, seed: int, what: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `fraction` of the rows off `frame`, stratified by label; single-label, at least one row a
    class (8 rows a class of 8 classes: 10 % is 7 rows, which no stratified split can hold)."""
    if dataset.task == "multilabel":
        from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

        y = np.array(encode_labels(frame["labels"], dataset.label_names, "multilabel"))
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        keep, out = next(splitter.split(np.zeros(len(frame)), y))
        return frame.iloc[keep].reset_index(drop=True), frame.iloc[out].reset_index(drop=True)
    counts = frame["labels"].value_counts()
    rare = counts[counts < 3]
    if len(rare):
        raise UserError(
            f"class {rare.index[0]!r} has only {int(rare.iloc[0])} example(s): a stratified {what} split "
            "needs at least 3 per class; add examples or drop that class"
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
        pool, frames["validation"] = carve(pool, share, dataset, seed, "validation")
        carved.append("validation")
    frames["train"] = pool
    overlap = set(frames["train"]["text"]) & (set(frames["test"]["text"]) | set(frames["validation"]["text"]))
    if overlap:  # given splits may share texts; never let a test text be trained on
        frames["train"] = frames["train"][~frames["train"]["text"].isin(overlap)].reset_index(drop=True)
    report = {
        "carved": carved,
        "given": [s for s in SPLITS if s not in carved],
        "sizes": {s: len(frames[s]) for s in SPLITS},
        "train_rows_dropped_as_in_eval": len(overlap),
    }
    return Splits({s: frames[s] for s in SPLITS}, report)
