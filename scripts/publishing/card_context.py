"""Everything the card template shows, from run.json, eval/metrics.json, config.json and quickfit.json: the
tables, the sentences (shared with report.md) and the values of the usage snippet (the template holds the
snippet itself)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from scripts.common import runs
from scripts.common.errors import UserError
from scripts.evaluation.report import (
    audit_sentence,
    calibration_sentence,
    comparison_table,
    cross_validated_sentence,
    explained_error_items,
    leakage_sentence,
    markdown_cell,
    markdown_table,
    paired_sentence,
    with_interval,
)
from scripts.model import truncation, windows
from scripts.model.architectures import simpletransformers_type
from scripts.model.base_model import hub_base_model
from scripts.publishing.card_data import (
    LANGUAGES,
    METRIC_NAMES,
    TASK_WORDS,
    card_data,
    millions,
    parameter_count,
)
from scripts.publishing.reproduce import public_config, reproduce_command
from scripts.publishing.training_notes import selection_sentence, start_sentence, truncation_note


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
        "usage": usage_values(record, meta, repo_id or str(runs.model_dir(run_dir)), run_dir / "onnx"),
        "reproduce": reproduce_command(public_config(config.get("requested", config["flat"]))),
        "resolved_config": json.dumps(
            {section: public_config(values) for section, values in config["sections"].items()}, indent=2
        ),
    }


def _about(run_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    ds = record["dataset"]
    base = hub_base_model(record["model"]["base_model"] or "")
    return {
        "task_word": TASK_WORDS[record["task"]],
        "base_link": f"[{base}](https://huggingface.co/{base})"
        if base
        else f"a local base model (`{Path(record['model']['model_name']).name}`)",
        "language": LANGUAGES.get(ds.get("language") or "en", ds.get("language")),
        "label_list": ", ".join(f"`{markdown_cell(n).replace('`', chr(39))}`" for n in record["labels"]),
        "model_type": record["model"]["model_type"],
        "parameters": millions(parameter_count(runs.model_dir(run_dir))),
    }


def _data_section(record: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    ds = record["dataset"]
    split = ds["split"]
    given = [s for s in split["given"] if s != "train"]
    how = (
        (
            f"carved with seed {config['flat']['manual_seed']} (stratified"
            + (", iterative stratification" if record["task"] == "multilabel" else "")
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
            else f"It beats the majority-class predictor ({report['collapse_check']})."
        ),
        "calibration": calibration_sentence(report),
        "cross_validated": cross_validated_sentence(report),
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
    thresholds = meta.get("thresholds") or []
    # multi-label: one cut-off per label; binary: one, on the positive label's probability
    cuts = (
        dict(zip(record["labels"], thresholds))
        if record["task"] == "multilabel"
        else ({meta["positive_label"]: thresholds[0]} if thresholds else {})
    )
    rows = [["id", "label"] + (["threshold (tuned on validation)"] if cuts else [])]
    for i, name in enumerate(record["labels"]):
        rows.append([str(i), name] + ([f"{cuts[name]:.2f}" if name in cuts else "-"] if cuts else []))
    return markdown_table(rows)


def usage_values(
    record: dict[str, Any], meta: dict[str, Any], ref: str, onnx: Path | None = None
) -> dict[str, Any]:
    """What the template's usage snippets need: where the model and quickfit.json are, an example text (cut
    as in training when the run's truncation is not the tokenizer's own), the task and thresholds."""
    example = (
        "Free entry! Text WIN to 80086 to claim your prize"
        if "spam" in record["labels"]
        else "Your text here"
    )
    mode = meta.get("truncation", "head")
    chunks = meta.get("long_texts") == "chunks"
    fit_text = "" if chunks else truncation.card_snippet(mode, int(meta.get("max_seq_length", 512)))
    text = f'fit_text("{example}", classifier.tokenizer)' if fit_text else f'"{example}"'
    return {
        "ref": ref,
        "meta_path": f'hf_hub_download("{ref}", "quickfit.json")'
        if "/" in ref and not ref.startswith(("/", "."))
        else f'"{ref}/quickfit.json"',
        "mode": mode,
        "fit_text": fit_text,
        "windows": windows.card_snippet(int(meta["max_seq_length"]), int(meta["window_overlap"]))
        if chunks
        else "",
        "text": text,
        "st_text": text.replace("classifier.", "model."),
        "task": record["task"],
        "tuned_binary": record["task"] == "binary" and bool(meta.get("thresholds")),
        # Simple Transformers' multi-label classes train their own heads (none for DeBERTa or ModernBERT,
        # another one for ELECTRA): only its single-label class loads this folder as it was trained.
        "st_type": simpletransformers_type(record["model"]["model_type"]),
        "max_seq_length": int(meta.get("max_seq_length", 128)),
        "example": example,
        **onnx_values(ref, onnx),
    }


def onnx_values(ref: str, onnx: Path | None) -> dict[str, Any]:
    """Where the ONNX snippet finds its files: the Hub repo's onnx/ folder, or the run's local onnx/. Only
    an export of exactly this model, whose checks ran (parity.json), is shown and claimed."""
    from scripts.model.meta import check_bound

    if onnx is None or not (onnx / "model.onnx").exists():
        return {"onnx": False}
    try:
        parity = check_bound(onnx, onnx.parent / "model")
    except UserError:
        return {"onnx": False}
    int8 = parity.get("int8") or {}
    hub = "/" in ref and not ref.startswith(("/", "."))

    def where(name: str, local: Path) -> str:
        return f'hf_hub_download("{ref}", "{name}")' if hub else f'"{local}"'

    return {
        "onnx": True,
        "onnx_rows": parity["rows"],
        "onnx_int8_shown": bool(int8.get("shown", True)),
        "onnx_int8": (onnx / "model_quantized.onnx").exists() and bool(int8.get("kept")),
        "tokenizer_path": where("tokenizer.json", onnx / "tokenizer.json"),
        "onnx_path": where("onnx/model.onnx", onnx / "model.onnx"),
    }
