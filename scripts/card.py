"""Entry point: the model card (README.md in the run's model folder), built from what the run recorded.

    python -m scripts.card [--run RUN] [--repo user/name]

Metadata goes through huggingface_hub's ModelCardData / EvalResult, so the Hub can read the
model-index; every number in the text comes from run.json and eval/metrics.json.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.common import runs, settings
from scripts.common.console import say
from scripts.common.errors import run_cli
from scripts.evaluation.report import (
    audit_sentence,
    calibration_sentence,
    comparison_table,
    explained_error_items,
    leakage_sentence,
    markdown_table,
    paired_sentence,
    with_interval,
)
from scripts.model import truncation
from scripts.model.architectures import simpletransformers_type
from scripts.model.base_model import hub_base_model

if TYPE_CHECKING:
    from huggingface_hub import ModelCard, ModelCardData

METRIC_NAMES = {
    "accuracy": "Accuracy",
    "f1_positive": "F1 (positive class)",
    "f1_macro": "Macro F1",
    "f1_micro": "Micro F1",
    "f1_weighted": "Weighted F1",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "mcc": "MCC",
    "balanced_accuracy": "Balanced accuracy",
    "f1_samples": "Samples F1",
    "subset_accuracy": "Subset accuracy",
    "hamming_loss": "Hamming loss",
    "lrap": "LRAP",
    "roc_auc_ovr": "ROC AUC (one-vs-rest)",
    "roc_auc_macro": "ROC AUC (macro)",
    "roc_auc_micro": "ROC AUC (micro)",
    "precision_positive": "Precision (positive class)",
    "recall_positive": "Recall (positive class)",
}
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}
TASK_WORDS = {"binary": "binary", "multiclass": "multi-class", "multilabel": "multi-label"}


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n:,}"


def parameter_count(model_dir: Path) -> int:
    """Parameters in model.safetensors, read from its header (no weights loaded)."""
    import numpy as np
    from safetensors import safe_open

    with safe_open(model_dir / "model.safetensors", "pt") as handle:
        return int(sum(np.prod(handle.get_slice(k).get_shape()) for k in handle.keys()))  # noqa: SIM118 (not a dict)


def ensure_eval(run_dir: Path, threads: Any = "auto") -> dict[str, Any]:
    """The card reports the evaluation of the run's own test split; run it first if it is missing (or if
    eval/ scores other rows)."""
    report = runs.test_metrics(run_dir)
    if report is None:
        from scripts.evaluate import evaluate

        say("no evaluation of this run's test split yet: running it first")
        report = evaluate(run_dir, threads=threads)
    return report


def card_data(
    record: dict[str, Any], report: dict[str, Any], repo_id: str | None, license_: str
) -> ModelCardData:
    from huggingface_hub import EvalResult, ModelCardData

    ds = record["dataset"]
    model = report["results"]["transformer"]
    dataset_type = ds.get("hub_dataset") or ds["name"]
    eval_results = [
        EvalResult(
            task_type="text-classification",
            task_name="Text Classification",
            dataset_type=dataset_type,
            dataset_name=ds["name"],
            dataset_split="test",
            dataset_config=ds.get("hub_config"),
            dataset_revision=ds.get("hub_revision") if ds.get("hub_dataset") else None,
            metric_type=key,
            metric_name=METRIC_NAMES.get(key, key),
            metric_value=float(model[key]),
        )
        for key in report["headline"]
        if model.get(key) is not None
    ]
    return ModelCardData(
        language=ds.get("language") or "en",
        license=license_,
        library_name="transformers",
        pipeline_tag="text-classification",
        base_model=hub_base_model(record["model"]["base_model"] or ""),
        datasets=[ds["hub_dataset"]] if ds.get("hub_dataset") else None,
        metrics=[k for k in report["headline"] if model.get(k) is not None],
        tags=[
            "text-classification",
            TASK_WORDS[record["task"]] + "-classification",
            "simpletransformers",
            "quickfit",
        ],
        model_name=(repo_id or record["run"]).split("/")[-1],
        eval_results=eval_results,
    )


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


def truncation_note(record: dict[str, Any]) -> str:
    """What max_seq_length cut, and how (records before the truncation key kept the head)."""
    stats = record.get("token_lengths") or {}
    if not stats:
        return ""
    auto = stats.get("auto", "truncation" not in record)
    how = {"head": "the start kept", "tail": "the end kept", "head+tail": "the start and the end kept"}
    return (
        f" ({'auto: 99th percentile of training token lengths, ' if auto else ''}"
        f"{stats.get('truncated_share_pct')}% of training texts longer, "
        f"truncation `{record.get('truncation', 'head')}`: {how[record.get('truncation', 'head')]})"
    )


def _usage(record: dict[str, Any], meta: dict[str, Any], ref: str) -> str:
    example = (
        "Free entry! Text WIN to 80086 to claim your prize"
        if "spam" in record["labels"]
        else "Your text here"
    )
    where = (
        f'hf_hub_download("{ref}", "quickfit.json")'
        if "/" in ref and not ref.startswith(("/", "."))
        else f'"{ref}/quickfit.json"'
    )
    mode = meta.get("truncation", "head")
    fit_text = truncation.card_snippet(mode, int(meta.get("max_seq_length", 512)))
    text = f'fit_text("{example}", classifier.tokenizer)' if fit_text else f'"{example}"'
    parts = [
        "With transformers (the pushed files are a plain `transformers` model); quickfit.json holds the",
        "temperature fitted on the validation split and the threshold(s) tuned after it"
        + (f"; `fit_text` cuts a long text as in training (truncation `{mode}`):" if fit_text else ":"),
        "",
        "```python",
        "import json",
        "import math",
        "",
        "from huggingface_hub import hf_hub_download",
        "from transformers import pipeline",
        "",
        *([*fit_text.splitlines(), ""] if fit_text else []),
        f"meta = json.load(open({where}))",
        f'classifier = pipeline("text-classification", model="{ref}", top_k=len(meta["labels"]), '
        'function_to_apply="none")',
        f'scores = classifier([{text}])[0]  # raw logits (function_to_apply="none")',
        'logits = {s["label"]: s["score"] for s in scores}',
    ]
    tuned_binary = record["task"] == "binary" and bool(meta.get("thresholds"))
    if record["task"] == "multilabel":
        parts += [
            't = dict(zip(meta["labels"], meta.get("temperature") or [1.0] * len(meta["labels"])))',
            "probs = {k: 1 / (1 + math.exp(-v / t[k])) for k, v in logits.items()}",
            'cut = dict(zip(meta["labels"], meta["thresholds"]))',
            'print([k for k in meta["labels"] if probs[k] >= cut[k]])',
        ]
    else:
        parts += [
            't, top = meta.get("temperature") or 1.0, max(logits.values())',
            "weights = {k: math.exp((v - top) / t) for k, v in logits.items()}",
            "probs = {k: w / sum(weights.values()) for k, w in weights.items()}",
        ]
        if tuned_binary:
            parts += [
                'positive, cut = meta["positive_label"], meta["thresholds"][0]',
                'other = next(label for label in meta["labels"] if label != positive)',
                "print(positive if probs[positive] >= cut else other)",
            ]
        else:
            parts += [
                'print(sorted(({"label": k, "score": round(p, 4)} for k, p in probs.items()), '
                'key=lambda s: -s["score"]))'
            ]
    parts += ["```"]
    if record["task"] != "multilabel":
        # Simple Transformers' multi-label classes train their own heads (none for DeBERTa or ModernBERT,
        # another
        # one for ELECTRA): only its single-label class loads this folder as it was trained.
        st_type = simpletransformers_type(record["model"]["model_type"])
        parts += [
            "",
            "With Simple Transformers:",
            "",
            "```python",
            "from simpletransformers.classification import ClassificationModel",
            "",
            f'model = ClassificationModel("{st_type}", "{ref}", use_cuda=False,',
            '    args={"use_multiprocessing": False, "use_multiprocessing_for_evaluation": False, '
            f'"max_seq_length": {int(meta.get("max_seq_length", 128))}}})',
            *([*fit_text.splitlines(), ""] if fit_text else []),
            f"predictions, raw_outputs = model.predict([{text.replace('classifier.', 'model.')}])",
            "print([model.config.id2label[int(p)] for p in predictions])"
            + ("  # argmax; apply the quickfit.json threshold for the tuned cut-off" if tuned_binary else ""),
            "```",
        ]
    return "\n".join(parts)


TEMPLATE = Path(__file__).with_name("card_template.md")


def context(run_dir: Path, repo_id: str | None, license_: str) -> dict[str, Any]:
    """Everything the card template shows, from run.json, eval/metrics.json, config.json and quickfit.json."""
    import pandas as pd

    record = runs.read_record(run_dir)
    report = ensure_eval(run_dir)
    meta = json.loads((runs.model_dir(run_dir) / "quickfit.json").read_text())
    config = runs.read_json(run_dir / "config.json")
    data = card_data(record, report, repo_id, license_)
    ds, bal, model = record["dataset"], record["balance"], report["results"]["transformer"]
    hw = record["hardware"]
    history = [
        ["epoch", "train loss (last batch)", "validation loss", f"validation {record['selection_metric']}"]
    ]
    for _, row in pd.read_csv(run_dir / "history.csv").iterrows():
        history.append(
            [
                str(int(row["epoch"])),
                f"{row.get('train_loss', float('nan')):.4f}",
                f"{row.get('eval_loss', float('nan')):.4f}",
                f"{row[record['selection_metric']]:.4f}",
            ]
        )
    hyper = [["hyperparameter", "value"]] + [[k, f"`{v}`"] for k, v in config["sections"]["ARGS"].items()]
    hyper += [
        ["max_seq_length (resolved)", f"`{record['max_seq_length']}`"],
        ["balancing", f"`{bal['method']}` ({bal['reason']})"],
        [
            "class weights" if bal.get("class_weight") else "pos_weight",
            f"`{bal.get('class_weight') or bal.get('pos_weight')}`",
        ],
    ]
    per_class = model.get("per_class", {})
    per_class_rows = [["label", "precision", "recall", "F1", "support"]] + [
        [n, f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}", str(c["support"])]
        for n, c in per_class.items()
    ]
    base = hub_base_model(record["model"]["base_model"] or "")
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
        "card_data": data,
        "model_name": data.model_name,
        "task_word": TASK_WORDS[record["task"]],
        "base_link": f"[{base}](https://huggingface.co/{base})"
        if base
        else f"a local base model (`{Path(record['model']['model_name']).name}`)",
        "dataset_name": ds["name"],
        "dataset_description": ds.get("description", ""),
        "hub_dataset": ds.get("hub_dataset") if ds.get("hub_revision") else None,
        "hub_config": ds.get("hub_config"),
        "hub_revision": ds.get("hub_revision"),
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
        "language": LANGUAGES.get(ds.get("language") or "en", ds.get("language")),
        "label_list": ", ".join(f"`{n}`" for n in record["labels"]),
        "model_type": record["model"]["model_type"],
        "parameters": _millions(parameter_count(runs.model_dir(run_dir))),
        "labels_table": _labels_table(record, meta),
        "citation": ds.get("citation"),
        "data_license": ds.get("license", "unknown"),
        "cleaning": ", ".join(
            f"{part}: {c['rows_read']} rows read, {c['dropped_empty_text']} empty texts, "
            f"{c['dropped_missing_label']} "
            f"missing labels, {c['dropped_duplicates']} duplicate texts and {c['dropped_conflicting']} rows "
            "with "
            "conflicting labels dropped"
            for part, c in ds.get("cleaning", {}).items()
        ),
        "split_sizes": ", ".join(f"{k} {v}" for k, v in split["sizes"].items()),
        "split_how": how + (f"; given by the dataset: {', '.join(given)}" if given else ""),
        "counts_table": _counts_table(record),
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
        "hyperparameters_table": markdown_table(hyper),
        "search": record.get("hyperparameter_search"),
        "calibration": calibration_sentence(report),
        "leakage": leakage_sentence(report),
        "audit": audit_sentence(report),
        "explained_errors": "\n".join(explained_error_items(report)),
        "history_table": markdown_table(history),
        "versions": ", ".join(f"{k} {v}" for k, v in record["versions"].items()),
        "comparison_table": markdown_table(comparison_table(report)),
        "per_class_table": markdown_table(per_class_rows) if per_class else "",
        "images": "\n".join(f"![{p}](eval/{p})" for p in report.get("plots", [])),
        "train_rows": split["sizes"]["train"],
        "thresholds_tuned": bool(meta.get("thresholds")),
        "usage": _usage(record, meta, repo_id or str(runs.model_dir(run_dir))),
        "reproduce": reproduce_command(public_config(config.get("requested", config["flat"]))),
        "resolved_config": json.dumps(
            {section: public_config(values) for section, values in config["sections"].items()}, indent=2
        ),
    }


def render(run_dir: Path, repo_id: str | None = None, license_: str = "apache-2.0") -> ModelCard:
    """The ModelCard of a run: card_template.md (Jinja, like SetFit's) filled from the run's records."""
    from huggingface_hub import ModelCard

    values = context(run_dir, repo_id, license_)
    return ModelCard.from_template(values.pop("card_data"), template_path=str(TEMPLATE), **values)


PATH_KEYS = ("dataset", "model_name", "outputs_dir")


def public_config(flat: dict[str, Any]) -> dict[str, Any]:
    """The config as the card may show it: a path of this machine becomes its last part (a Hub id stays)."""

    def public(value: Any) -> Any:
        local = isinstance(value, str) and (
            value.startswith(("/", ".", "~")) or Path(value).expanduser().exists()
        )
        return Path(value).name if local else value

    return {k: public(v) if k in PATH_KEYS else v for k, v in flat.items()}


def reproduce_command(flat: dict[str, Any]) -> str:
    """`make train` with the overrides that differ from config.py's defaults (plus the full config below)."""
    changed = settings.changed_from_defaults(flat)
    data = changed.pop("dataset", None)
    parts = ["make train"] + ([f"DATA={data}"] if data else [])
    if changed:
        parts.append(
            'SET="'
            + " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in changed.items())
            + '"'
        )
    return " ".join(parts)


def write_card(run_dir: Path, repo_id: str | None = None, license_: str = "apache-2.0") -> Path:
    card = render(run_dir, repo_id, license_)
    path = runs.model_dir(run_dir) / "README.md"
    card.save(path)
    return path


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.card", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument("--repo", help="the Hub repo id the snippets should name (default: the local path)")
    args = parser.parse_args(argv)
    run_dir, cfg = runs.find_from_cli(args.run)
    path = write_card(run_dir, args.repo, cfg["license"])
    say(f"model card written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
