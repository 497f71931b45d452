"""Everything the card template shows, from run.json, eval/metrics.json, config.json and quickfit.json: the
tables, the sentences (shared with report.md) and the values of the usage snippet (the template holds the
snippet itself)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from scripts.common import runs, tasks
from scripts.common.errors import UserError
from scripts.evaluation.intervals import width_words
from scripts.evaluation.report import (
    comparison_table,
    explained_error_items,
    markdown_cell,
    markdown_table,
    with_interval,
)
from scripts.evaluation.sentences import (
    audit_sentence,
    calibration_sentence,
    cross_validated_sentence,
    held_out_words,
    interval_sentence,
    leakage_sentence,
    paired_sentence,
    references_sentence,
    trivial_name,
)
from scripts.model.base_model import hub_base_model
from scripts.publishing.card_data import (
    LANGUAGES,
    METRIC_NAMES,
    card_data,
    millions,
    parameter_count,
)
from scripts.publishing.reproduce import public_config, reproduce_command
from scripts.publishing.training_notes import selection_sentence, start_sentence, truncation_note
from scripts.publishing.usage import usage_values


def context(run_dir: Path, report: dict[str, Any], repo_id: str | None, license_: str) -> dict[str, Any]:
    """The template's values: what was trained on, how it went, how it scores, how to use it."""
    record = runs.read_record(run_dir)
    meta = runs.read_json(runs.model_dir(run_dir) / "quickfit.json")
    config = runs.read_json(run_dir / "config.json")
    data = card_data(record, report, repo_id, license_)
    history = _history_table(run_dir, record)
    return {
        "card_data": data,
        "model_name": data.model_name,
        **_about(run_dir, record),
        **_data_section(record, config),
        **_training_section(record, config, history),
        **_evaluation_section(report),
        "labels_table": _labels_table(record, meta),
        "thresholds_tuned": bool(meta.get("thresholds")),
        "tuned_where": held_out_words(record),
        "usage": usage_values(record, meta, repo_id or str(runs.model_dir(run_dir)), run_dir / "onnx"),
        "reproduce": reproduce_command(public_config(config.get("requested", config["flat"]))),
        "resolved_config": json.dumps(
            {section: public_config(values) for section, values in config["sections"].items()}, indent=2
        ),
    }


def _about(run_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    ds = record["dataset"]
    base = hub_base_model(record["model"]["base_model"] or "")
    kind = tasks.get(record["task"])
    pair = bool(record.get("text_pair"))
    of = " of pairs of texts" if pair else ""
    listed = ", ".join(f"`{markdown_cell(n).replace('`', chr(39))}`" for n in record["labels"])
    language = LANGUAGES.get(ds.get("language") or "en", ds.get("language"))
    texts = f"pairs of {language} texts" if pair else f"short {language} texts"
    if kind.classifies:
        what = f"{kind.word} text classifier{of}"
        use = f"Classifying {texts} like those in {ds['name']} into: {listed}."
        note = (
            f"Scores were calibrated on {held_out_words(record)} (see Evaluation); on other data they may "
            "be over- or under-confident."
        )
    else:
        what = f"text regression model{of} ({len(record['labels'])} score{'s' * (len(record['labels']) > 1)})"
        spans = "; ".join(_target_range(record, name) for name in record["labels"])
        use = (
            f"Scoring {texts} like those in {ds['name']} on {listed}, in the data's own units (training "
            f"targets: {spans}); each prediction comes with a prediction interval."
        )
        note = (
            "The prediction interval was fitted on held-out rows of this data (see Evaluation for its "
            "coverage on the test split); on other data it may be too narrow."
        )
    return {
        "task_word": kind.word,
        "what": what,
        "intended_use": use,
        "confidence_note": note,
        "labels_heading": "Labels" if kind.classifies else "Targets",
        "base_link": f"[{base}](https://huggingface.co/{base})"
        if base
        else f"a local base model (`{Path(record['model']['model_name']).name}`)",
        "language": LANGUAGES.get(ds.get("language") or "en", ds.get("language")),
        "label_list": ", ".join(f"`{markdown_cell(n).replace('`', chr(39))}`" for n in record["labels"]),
        "model_type": record["model"]["model_type"],
        "parameters": millions(parameter_count(runs.model_dir(run_dir))),
    }


def _target_range(record: dict[str, Any], name: str) -> str:
    stats = (record.get("target_stats") or {}).get("train", {}).get(name)
    if not stats:
        return f"`{name}`"
    return f"`{name}` {stats['min']:.4g} to {stats['max']:.4g}, mean {stats['mean']:.4g}"


def _data_section(record: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    ds = record["dataset"]
    split = ds["split"]
    given = [s for s in split["given"] if s != "train"]
    how = (
        (
            f"carved with seed {config['flat']['manual_seed']} (stratified"
            + (", iterative stratification" if tasks.get(record["task"]).per_label else "")
            + "): "
            + ", ".join(split["carved"])
        )
        if split["carved"]
        else "as shipped"
    )
    return {
        "dataset_name": ds["name"],
        "dataset_description": ds.get("description", ""),
        "hub_dataset": ds.get("hub_dataset") if ds.get("hub_revision") else None,
        "hub_config": ds.get("hub_config"),
        "hub_revision": ds.get("hub_revision"),
        "citation": ds.get("citation"),
        "data_license": ds.get("license", "unknown"),
        "cleaning": ", ".join(
            f"{part}: {c['rows_read']} rows read, {c['dropped_empty_text']} empty texts, "
            f"{c['dropped_missing_label']} missing labels, {c['dropped_duplicates']} duplicate texts and "
            f"{c['dropped_conflicting']} rows with conflicting labels dropped"
            for part, c in ds.get("cleaning", {}).items()
        ),
        "split_sizes": ", ".join(f"{k} {v}" for k, v in split["sizes"].items()),
        "split_how": how + (f"; given by the dataset: {', '.join(given)}" if given else ""),
        "counts_table": _counts_table(record),
        "train_rows": split["sizes"]["train"],
    }


def _training_section(
    record: dict[str, Any], config: dict[str, Any], history: list[list[str]]
) -> dict[str, Any]:
    hw = record["hardware"]
    return {
        "selection_sentence": selection_sentence(record, len(history) - 1),
        "start_sentence": start_sentence(record),
        "best_epoch": record["best_epoch"],
        "epochs_run": len(history) - 1,
        "selection_metric": record["selection_metric"],
        "validation_best": f"{record['validation_best']:.4f}",
        "train_seconds": f"{record['train_seconds']:.0f}",
        "hardware": hw.get("gpu") or f"{hw.get('cpu_count')} CPU cores",
        "torch_threads": hw.get("torch_threads", "?"),
        "precision": record.get("precision"),
        "max_seq_length": record["max_seq_length"],
        "truncation_note": truncation_note(record),
        "truncation": record.get("truncation", "head"),
        "hyperparameters_table": markdown_table(_hyperparameters(record, config)),
        "search": record.get("hyperparameter_search"),
        "history_table": markdown_table(history),
        "versions": ", ".join(f"{k} {v}" for k, v in record["versions"].items()),
    }


def _evaluation_section(report: dict[str, Any]) -> dict[str, Any]:
    model = report["results"]["transformer"]
    per_class = model.get("per_class", {})
    per_class_rows = [["label", "precision", "recall", "F1", "support"]] + [
        [n, f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}", str(c["support"])]
        for n, c in per_class.items()
    ]
    return {
        "test_rows": report["data"]["rows"],
        "paired": paired_sentence(report),
        "headline": ", ".join(
            f"{METRIC_NAMES.get(k, k)} {with_interval(model, k)}"
            for k in report["headline"][:5]
            if model.get(k) is not None
        ),
        "collapse": (
            "**Warning: this model collapsed** - " + report["collapse_check"] + "."
            if report["collapsed"]
            else f"It beats the {trivial_name(report['task'])} predictor ({report['collapse_check']})."
        ),
        "calibration": calibration_sentence(report),
        "interval": interval_sentence(report),
        "cross_validated": cross_validated_sentence(report),
        "references": references_sentence(report),
        "leakage": leakage_sentence(report),
        "audit": audit_sentence(report),
        "explained_errors": "\n".join(explained_error_items(report)),
        "comparison_table": markdown_table(comparison_table(report)),
        "per_class_table": markdown_table(per_class_rows) if per_class else "",
        "images": "\n".join(f"![{p}](eval/{p})" for p in report.get("plots", [])),
    }


def _history_table(run_dir: Path, record: dict[str, Any]) -> list[list[str]]:
    history = [
        ["epoch", "train loss (last batch)", "validation loss", f"validation {record['selection_metric']}"]
    ]
    try:
        frame = pd.read_csv(run_dir / "history.csv")
    except (OSError, ValueError) as exc:  # missing, empty or not a table
        raise UserError(
            f"{run_dir / 'history.csv'} cannot be read ({exc}); restore it or train again"
        ) from exc
    for _, row in frame.iterrows():
        history.append(
            [
                str(int(row["epoch"])),
                f"{row.get('train_loss', float('nan')):.4f}",
                f"{row.get('eval_loss', float('nan')):.4f}",
                f"{row[record['selection_metric']]:.4f}",
            ]
        )
    return history


def _hyperparameters(record: dict[str, Any], config: dict[str, Any]) -> list[list[str]]:
    bal = record["balance"]
    hyper = [["hyperparameter", "value"]] + [[k, f"`{v}`"] for k, v in config["sections"]["ARGS"].items()]
    return hyper + [
        ["max_seq_length (resolved)", f"`{record['max_seq_length']}`"],
        ["balancing", f"`{bal['method']}` ({bal['reason']})"],
        [
            "class weights" if bal.get("class_weight") else "pos_weight",
            f"`{bal.get('class_weight') or bal.get('pos_weight')}`",
        ],
    ]


def _counts_table(record: dict[str, Any]) -> str:
    if not tasks.get(record["task"]).classifies:  # targets: their spread in each split
        rows = [["target", "split", "rows", "mean", "std", "min", "max"]]
        for name in record["labels"]:
            for part, stats in (record.get("target_stats") or {}).items():
                found = stats.get(name)
                if found:
                    rows.append(
                        [name, part, str(found["rows"])]
                        + [f"{found[k]:.4g}" for k in ("mean", "std", "min", "max")]
                    )
        return markdown_table(rows)
    counts = record["counts"]
    after = record["balance"]["after"]
    rows = [["label", "train (before balancing)", "train (as trained)", "validation", "test"]]
    for name in record["labels"]:
        rows.append(
            [name]
            + [
                str(x)
                for x in (
                    counts["train"].get(name, 0),
                    after.get(name, 0),
                    counts["validation"].get(name, 0),
                    counts["test"].get(name, 0),
                )
            ]
        )
    return markdown_table(rows)


def _labels_table(record: dict[str, Any], meta: dict[str, Any]) -> str:
    interval = meta.get("interval")
    if not tasks.get(record["task"]).classifies:
        rows = [
            ["output", "target", f"{interval['level']:.0%} interval half-width" if interval else "interval"]
        ]
        for i, name in enumerate(record["labels"]):
            rows.append([str(i), name, width_words(interval, i) if interval else "-"])
        return markdown_table(rows)
    thresholds = meta.get("thresholds") or []
    # multi-label: one cut-off per label; binary: one, on the positive label's probability
    cuts = (
        dict(zip(record["labels"], thresholds))
        if tasks.get(record["task"]).per_label
        else ({meta["positive_label"]: thresholds[0]} if thresholds else {})
    )
    where = (
        "out of fold" if (record.get("model_selection") or {}).get("method") == "kfold" else "on validation"
    )
    rows = [["id", "label"] + ([f"threshold (tuned {where})"] if cuts else [])]
    for i, name in enumerate(record["labels"]):
        rows.append([str(i), name] + ([f"{cuts[name]:.2f}" if name in cuts else "-"] if cuts else []))
    return markdown_table(rows)
