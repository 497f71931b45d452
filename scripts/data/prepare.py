"""Data for one training: read and clean the source, split it (its own splits honoured), separate near-copies
across the splits (dedupe=near), cap the training rows, and check the splits for leakage, each step said."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scripts.common.console import say
from scripts.common.errors import UserError
from scripts.data import leakage, sources, split
from scripts.data.dataset import Dataset, load_dataset


def prepare(cfg: dict[str, Any]) -> tuple[Dataset, dict[str, pd.DataFrame], sources.Source]:
    """Load, clean and split the data (everything before the model); fails early on bad input."""
    source = sources.get_source(cfg["dataset"], cfg["hf_config"], cfg["hf_revision"])
    dataset = load_dataset(source, cfg)
    report = dataset.report
    say(
        f"data: {source.name} | task {dataset.task}{' on pairs of texts' if dataset.text_pair else ''} | "
        f"{len(dataset.label_names)} {'label' if dataset.kind.classifies else 'target'}"
        f"{'s' if len(dataset.label_names) != 1 else ''} | "
        f"detected separator {report['detected']['separator']!r}, encoding {report['detected']['encoding']}"
    )
    if source.hub_dataset and source.hub_revision:
        say(
            f"  Hugging Face dataset {source.hub_dataset}"
            + (f" ({source.hub_config})" if source.hub_config else "")
            + f" at commit {source.hub_revision}"
            + (
                f"; splits left out: {', '.join(report['splits_left_out'])}"
                if report.get("splits_left_out")
                else ""
            )
        )
    for part, cleaning in report["cleaning"].items():
        say(
            f"  {part}: {cleaning['rows_read']} rows read, dropped {cleaning['dropped_empty_text']} empty "
            "texts, "
            f"{cleaning['dropped_missing_label']} missing labels, {cleaning['dropped_duplicates']} "
            "duplicates, "
            f"{cleaning['dropped_conflicting']} rows of {cleaning['conflicting_texts']} texts with "
            "conflicting labels"
        )
    splits = split.make_splits(dataset, cfg["validation_size"], cfg["test_size"], cfg["manual_seed"])
    report["split"] = splits.report
    sketches = leakage.Sketches()  # each text's near-duplicate signature, computed once for both steps
    if cfg["dedupe"] == "near":
        splits, moved = leakage.separate(splits, splits.report["carved"], sketches)
        report["split"]["near_duplicates"] = moved
        say(f"  dedupe=near: {moved}")
    if dataset.kind.stratify == "class" and 0 < cfg["max_train_rows"] < len(dataset.label_names):
        raise UserError(
            f"max_train_rows={cfg['max_train_rows']} is below the {len(dataset.label_names)} classes: "
            "a stratified sample needs a row of each; raise it or set 0 for all rows"
        )
    if cfg["max_train_rows"] and len(splits["train"]) > cfg["max_train_rows"]:
        report["split"]["train_rows_before_cap"] = len(splits["train"])
        splits["train"] = _subsample(splits["train"], cfg["max_train_rows"], dataset, cfg["manual_seed"])
        say(f"  training rows capped at {cfg['max_train_rows']} (max_train_rows)")
    sizes = {k: len(v) for k, v in splits.items()}
    report["split"]["sizes"] = sizes  # the rows trained and evaluated on (run.json, the card): after the cap
    check_split_sizes(sizes, report["split"], cfg["dedupe"])
    say(f"split: {sizes} (carved: {report['split']['carved'] or 'none'}, given: {report['split']['given']})")
    _labels_absent_from_training(dataset, splits, report)
    report["leakage"] = leakage.report(splits, sketches=sketches)
    say(f"  leakage check: {leakage.summary(report['leakage'])}")
    return dataset, splits, source


def check_split_sizes(sizes: dict[str, int], split_report: dict[str, Any], dedupe: str) -> None:
    """Refuse, before any training, splits that cannot do their job: no test or validation row left, said
    with the numbers and where the rows went."""
    empty = [part for part in ("validation", "test") if sizes[part] == 0]
    if not empty:  # (fewer than 2 training rows: the plan's preflight says so)
        return
    moved = split_report.get("near_duplicates") or {}
    went = ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in moved.items() if n)
    why = (
        f"; dedupe=near: {went}; the texts are near-copies of each other (templated texts?), so "
        "no held-out row would be new to the model. Set dedupe=exact to keep them apart anyway, or give "
        "more varied texts"
        if went and dedupe == "near"
        else "; give more labelled rows (or a larger validation_size/test_size)"
    )
    raise UserError(
        f"the {' and '.join(empty)} split would hold 0 rows (split: train {sizes['train']}, validation "
        f"{sizes['validation']}, test {sizes['test']}){why}"
    )


def _subsample(frame: pd.DataFrame, n: int, dataset: Dataset, seed: int) -> pd.DataFrame:
    kind = dataset.kind
    if kind.stratify == "iterative":
        return frame.sample(n=n, random_state=seed).reset_index(drop=True)
    from sklearn.model_selection import train_test_split

    strata = kind.strata(kind.encode(frame["labels"], dataset.label_names))
    kept, _ = train_test_split(frame, train_size=n, random_state=seed, stratify=strata)
    return kept.reset_index(drop=True)


def _labels_absent_from_training(
    dataset: Dataset, splits: dict[str, pd.DataFrame], report: dict[str, Any]
) -> None:
    """A multi-label label with no positive training row cannot be learnt: its F1 on test is 0 by
    construction. Said and recorded, never silent."""
    if not dataset.kind.per_label:
        return
    seen = {name for labels in splits["train"]["labels"] for name in labels}
    absent = [name for name in dataset.label_names if name not in seen]
    report["split"]["labels_absent_from_training"] = absent
    if absent:
        say(
            f"  {len(absent)} label(s) have no positive training row and cannot be learnt (F1 0 on test by "
            f"construction): {', '.join(map(repr, absent[:5]))}; add rows for them or drop them"
        )
