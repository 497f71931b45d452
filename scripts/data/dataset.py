"""Any table or dataset -> clean frames with `text` and `labels`, the label names and the task.

Steps (load_dataset): read the source's frames (readers.py for files) -> choose the text and label
columns -> canonical text and labels (labels.py) -> clean (empty, missing, duplicates, conflicts) ->
task and label names -> the positive class.

Canonical frame: `text` (str) and `labels`: the label name (single-label) or a tuple of names
(multi-label). Everything later encodes from the label names saved with the run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common import tasks
from scripts.common.errors import UserError
from scripts.common.tasks import Inputs, Task
from scripts.data.columns import choose_columns
from scripts.data.label_reading import label_reading, text_and_labels, unlabelled_left_out
from scripts.data.labels import (
    sort_labels,
)
from scripts.data.readers import read_table
from scripts.data.sources import Source


@dataclass
class Dataset:
    """A cleaned dataset: frames by split ("all" or train/validation/test), label names, task."""

    frames: dict[str, pd.DataFrame]
    label_names: list[str]  # class names, or the target names of a regression
    task: str
    positive_label: str | None
    report: dict[str, Any] = field(default_factory=dict)
    text_pair: bool = False  # each row a pair of texts (`text` and `text_b`)

    @property
    def kind(self) -> Task:
        return tasks.get(self.task)

    @property
    def inputs(self) -> Inputs:
        return Inputs(self.text_pair)


# ---------------------------------------------------------------- columns


# ---------------------------------------------------------------- cleaning


def _clean(
    frame: pd.DataFrame, report: dict[str, Any], dedupe: str = "exact", average: bool = False
) -> pd.DataFrame:
    """Drop empty texts (either text of a pair) and missing labels, then exact duplicate texts (pairs: the
    same two texts in order), conflicting ones entirely, or with `average` (regression) as one row with
    their targets' mean; dedupe=none keeps duplicates and conflicts (split.py still keeps a text's copies
    on one side)."""
    n_read = len(frame)
    strip = lambda t: "" if t is None or t != t else str(t).strip()  # noqa: E731
    frame = frame.assign(**{c: frame[c].map(strip) for c in frame.columns if c.startswith("text")})
    empty_text = (frame[[c for c in frame.columns if c.startswith("text")]] == "").any(axis=1)
    missing_label = frame["labels"].isna()
    frame = frame[~empty_text & ~missing_label]
    if dedupe == "none":
        report.update(
            rows_read=n_read,
            dropped_empty_text=int(empty_text.sum()),
            dropped_missing_label=int((missing_label & ~empty_text).sum()),
            dropped_duplicates=0,
            dropped_conflicting=0,
            conflicting_texts=0,
        )
        return frame.reset_index(drop=True)
    key = frame["text"] + ("\0" + frame["text_b"] if "text_b" in frame else "")
    if average:  # a score given twice for one text: one row, the mean of its scores
        means = frame.groupby(key, sort=False)["labels"].agg(
            lambda v: tuple(np.mean([list(x) for x in v], axis=0))
        )
        frame = frame.assign(labels=key.map(means))
    groups = frame.groupby(key, sort=False)["labels"].nunique()
    conflicting = set(groups[groups > 1].index)
    n_conflict_rows = int(key.isin(conflicting).sum())
    frame, key = frame[~key.isin(conflicting)], key[~key.isin(conflicting)]
    deduped = frame[~key.duplicated(keep="first")]
    report.update(
        rows_read=n_read,
        dropped_empty_text=int(empty_text.sum()),
        dropped_missing_label=int((missing_label & ~empty_text).sum()),
        dropped_duplicates=len(frame) - len(deduped),
        dropped_conflicting=n_conflict_rows,
        conflicting_texts=len(conflicting),
    )
    return deduped.reset_index(drop=True)


def detect_task(labels: pd.Series, requested: str) -> str:
    multi = labels.dropna().map(lambda v: isinstance(v, tuple)).all()
    if requested != "auto":
        return requested
    if multi:
        return "multilabel"
    return "binary" if labels.nunique() == 2 else "multiclass"


def load_dataset(source: Source, config: Mapping[str, Any]) -> Dataset:
    """Read every file of the source, resolve columns and labels, clean, detect the task."""
    wanted = {
        k: (source.columns.get(k, v) if v == "auto" else v)
        for k, v in (
            ("text_column", config["text_column"]),
            ("label_column", config["label_column"]),
            ("task", config["task"]),
            ("positive_label", config["positive_label"]),
        )
    }
    report: dict[str, Any] = {"source": source.name, "files": {k: str(v) for k, v in source.files.items()}}
    raw = _read_frames(source, config, report)
    texts, label_cols, pair = _columns(raw, wanted, config.get("text_pair", "auto"))
    task = label_reading(raw, label_cols, wanted["task"], config["label_delimiter"])
    frames = {
        split: text_and_labels(frame, texts, label_cols, task, config["label_delimiter"], pair)
        for split, frame in raw.items()
    }
    if source.label_names:  # ids -> names (GoEmotions ships ids and a names file)
        frames = {
            split: frame.assign(
                labels=frame["labels"].map(
                    lambda v: None if v is None else tuple(sorted(source.label_names[int(i)] for i in v))
                )
            )
            for split, frame in frames.items()
        }
    frames = unlabelled_left_out(frames, report, task)
    cleaned = {}
    for split, frame in frames.items():
        cleaned[split] = _clean(
            frame,
            report.setdefault("cleaning", {}).setdefault(split, {}),
            config.get("dedupe", "exact"),
            average=task == "regression",
        )
    train_key = "all" if "all" in cleaned else "train"
    _check_usable(cleaned[train_key], report["cleaning"][train_key])
    if task == "regression":  # decided by the label reading; "auto" otherwise
        names = [str(c) for c in label_cols]
    else:
        task, names = _task_and_label_names(
            cleaned, train_key, wanted["task"], label_cols, source.label_names, config["label_delimiter"]
        )
    positive = (
        _positive_label(cleaned[train_key], names, wanted["positive_label"]) if task == "binary" else None
    )
    report.update(
        task=task, text_columns=texts, label_columns=label_cols, n_labels=len(names), text_pair=pair
    )
    report["official_metric"] = source.columns.get("metric")  # the dataset's own (GLUE's), `metric`'s default
    return Dataset(
        frames=cleaned,
        label_names=list(names),
        task=task,
        positive_label=positive,
        report=report,
        text_pair=pair,
    )


def _columns(
    raw: dict[str, pd.DataFrame], wanted: dict[str, Any], text_pair: Any
) -> tuple[list[str], list[str], bool]:
    """The text columns, the label columns, and whether the two text columns are a pair."""
    texts, label_cols = choose_columns(
        next(iter(raw.values())), wanted["text_column"], wanted["label_column"], text_pair
    )
    if text_pair is True and len(texts) != 2:
        raise UserError(
            f"text_pair=True needs two text columns, and {len(texts)} were found ({texts}); set "
            "text_column=[first, second]"
        )
    if len(label_cols) > 1 and wanted["task"] not in ("auto", "multilabel", "regression"):
        raise UserError(
            f"several label columns {label_cols} mean multi-label (0/1 columns) or several regression "
            f"targets, but task={wanted['task']}; set task=multilabel or task=regression"
        )
    return texts, label_cols, len(texts) == 2 and text_pair is not False


def _read_frames(
    source: Source, config: Mapping[str, Any], report: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """The source's raw frames by split: typed columns as they are (Hub, Parquet, Arrow), files parsed."""
    if source.frames is not None:
        report["detected"] = {"encoding": "arrow", "separator": "none (Parquet/Arrow columns)"}
        if source.read.get("left_out"):
            report["splits_left_out"] = list(source.read["left_out"])
        return {
            split: frame.astype(object).where(frame.notna(), None) for split, frame in source.frames.items()
        }
    read = dict(source.read)
    if config["separator"] != "auto":
        read["separator"] = config["separator"]
    if config["column_names"]:
        read["column_names"] = config["column_names"]
    raw = {}
    for split, path in source.files.items():
        raw[split], detected = read_table(
            path,
            read.get("separator", "auto"),
            config["encoding"],
            read.get("column_names"),
            read.get("quoting", csv.QUOTE_MINIMAL),
            read.get("skip_rows"),
        )
        report.setdefault("detected", detected)
    return raw


def _check_usable(train: pd.DataFrame, cleaning: dict[str, Any]) -> None:
    if train.empty:
        raise UserError(
            f"no usable rows: of {cleaning['rows_read']}, {cleaning['dropped_empty_text']} have an empty "
            f"text, {cleaning['dropped_missing_label']} no label and {cleaning['dropped_conflicting']} "
            "conflicting labels for the same text; check text_column and label_column, or fix the file"
        )


def _task_and_label_names(
    cleaned: dict[str, pd.DataFrame],
    train_key: str,
    requested: str,
    label_cols: list[str],
    given_names: list[str] | None,
    delimiter: str,
) -> tuple[str, list[str]]:
    """The task (detected unless set) and the label names; multi-label frames get tuples everywhere."""
    train = cleaned[train_key]
    all_labels = pd.concat([f["labels"] for f in cleaned.values()])
    task = detect_task(all_labels, requested)
    if tasks.get(task).per_label:
        as_tuple = lambda v: v if isinstance(v, tuple) else (v,)  # noqa: E731
        for split in cleaned:
            cleaned[split]["labels"] = cleaned[split]["labels"].map(as_tuple)
        names = given_names or (
            label_cols if len(label_cols) > 1 else sort_labels({n for v in all_labels for n in as_tuple(v)})
        )
        if sum(len(v) for v in cleaned[train_key]["labels"]) == 0:
            raise UserError("no training row carries any label; check label_column and label_delimiter")
        return task, list(names)
    if all_labels.map(lambda v: isinstance(v, tuple)).any():
        raise UserError(
            f"task={task} but the labels look multi-label (lists or {delimiter!r}-delimited); "
            "set task=multilabel or fix label_delimiter"
        )
    names = sort_labels(set(all_labels))
    if len(set(train["labels"])) < 2:
        raise UserError(
            f"only one class ({train['labels'].iloc[0]!r}) in the data: a classifier needs at least two; "
            "check label_column or add examples of the other classes"
        )
    if task == "binary" and len(names) != 2:
        raise UserError(
            f"task=binary but {len(names)} classes were found ({', '.join(names[:5])}...); "
            "set task=multiclass or auto"
        )
    unseen = set().union(*(set(f["labels"]) for k, f in cleaned.items() if k != train_key)) - set(
        train["labels"]
    )
    if unseen:
        raise UserError(
            f"labels {sorted(unseen)} appear in the evaluation files but never in training; "
            "add training examples or drop those rows"
        )
    return task, names


def _positive_label(train: pd.DataFrame, names: list[str], wanted: Any) -> str:
    """Binary: the class whose precision/recall/F1 are reported (auto: the minority class)."""
    if wanted == "auto":
        return str(train["labels"].value_counts().idxmin())
    if str(wanted) not in names:
        raise UserError(f"positive_label={wanted!r} is not a label; labels are {names}")
    return str(wanted)


# ---------------------------------------------------------------- encoding and storage


def encode_labels(labels: pd.Series, label_names: list[str], task: str) -> list:
    """Label names -> ids (single-label), multi-hot lists (multi-label) or target rows (regression)."""
    return tasks.get(task).encode(labels, label_names).tolist()


def label_counts(frame: pd.DataFrame, task: str) -> dict[str, int]:
    return tasks.get(task).counts(frame["labels"])


def save_split(frame: pd.DataFrame, path: Path, task: str | None = None) -> None:
    """Store a split as text (+ text_b of a pair) and labels (label sets and targets as JSON lists) so every
    later stage reads the same rows."""
    out = frame[[c for c in ("text", "text_b", "labels") if c in frame.columns]].copy()
    if task is not None:
        out["labels"] = out["labels"].map(tasks.get(task).dump_label)
    else:
        out["labels"] = out["labels"].map(lambda v: json.dumps(list(v)) if isinstance(v, tuple) else v)
    out.to_csv(path, index=False)


def load_split(path: Path, task: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["labels"] = frame["labels"].map(tasks.get(task).parse_label)
    return frame
