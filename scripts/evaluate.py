"""Entry point: honest evaluation of a run on its held-out test split (or any labelled CSV).

    python -m scripts.evaluate [--run RUN] [--data FILE]

Writes outputs/<run>/eval/ (or eval-<file>-<hash>/ for another file): metrics.json, report.md,
predictions.csv and the plots; prints the transformer against a frozen-embedding probe of its own base
model, TF-IDF + logistic regression and the majority class, with bootstrap intervals.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.data import leakage, sources
from scripts.data.dataset import encode_labels, load_dataset, load_split
from scripts.evaluation import baselines, calibration, cross_validated, explain, uncertainty
from scripts.evaluation.error_analysis import error_analysis
from scripts.evaluation.metrics import COLLAPSE_METRIC, HEADLINE, collapse_check, score
from scripts.evaluation.outputs import write_outputs
from scripts.evaluation.report import cross_validated_sentence, print_table
from scripts.model.base_model import hub_base_model
from scripts.model.inference import decide

__all__ = ["COLLAPSE_METRIC", "HEADLINE", "collapse_check", "decide", "evaluate", "main", "score"]


@dataclass
class Rows:
    """What is scored and what the references are fitted on, labels encoded with the run's label map."""

    record: dict[str, Any]
    task: str
    labels: list[str]
    positive: int | None
    name: str
    texts: list[str]
    y: np.ndarray
    train: pd.DataFrame
    y_train: np.ndarray
    val: pd.DataFrame
    y_val: np.ndarray


def load_eval_data(run_dir: Path, record: dict[str, Any], data_path: str | None) -> tuple[pd.DataFrame, str]:
    """The run's saved test split, or a labelled file read with the run's own column settings."""
    if not data_path:
        return load_split(runs.split_path(run_dir, "test"), record["task"]), "splits/test.csv"
    cfg = dict(runs.saved_config(run_dir))
    cfg.update(dataset=data_path, task="multilabel" if record["task"] == "multilabel" else "auto")
    source = sources.get_source(data_path)
    source.columns = {}
    frame = pd.concat(load_dataset(source, cfg).frames.values(), ignore_index=True)
    known = set(record["labels"])
    seen = {n for v in frame["labels"] for n in (v if isinstance(v, tuple) else (v,))}
    if seen - known:
        raise UserError(
            f"{data_path} has labels the model never saw in training: {sorted(seen - known)}; "
            "drop those rows or retrain with them"
        )
    return frame, str(data_path)


def load_rows(run_dir: Path, data_path: str | None) -> Rows:
    record = runs.read_record(run_dir)
    task, labels = record["task"], record["labels"]
    frame, name = load_eval_data(run_dir, record, data_path)
    train = load_split(runs.split_path(run_dir, "train"), task)
    val = load_split(runs.split_path(run_dir, "validation"), task)
    if (record.get("model_selection") or {}).get("method") == "kfold":  # the model trained on both:
        train = pd.concat([train, val], ignore_index=True)  # so do the references it is compared with
    encode = lambda f: np.array(encode_labels(f["labels"], labels, task))  # noqa: E731
    positive = labels.index(record["positive_label"]) if record.get("positive_label") else None
    texts = frame["text"].tolist()
    return Rows(
        record, task, labels, positive, name, texts, encode(frame), train, encode(train), val, encode(val)
    )


def evaluate(run_dir: Path, data_path: str | None = None, threads: Any = "auto") -> dict[str, Any]:
    """Score the run's model and its references on the same rows; write the evaluation folder."""
    from scripts.model.inference import load_predictor  # transformers only when evaluating

    rows = load_rows(run_dir, data_path)
    predictor = load_predictor(runs.model_dir(run_dir), threads)
    model = transformer_outputs(predictor, rows)
    references = reference_outputs(rows, run_dir, model["tuned"])
    results, leaked = score_all(rows, model, references)
    report = assemble(run_dir, rows, model, references, results, leaked)
    if data_path is None:  # the run's own test split: beside it, a k-fold run's cross-validated estimate
        # a k-fold run's rows.train is train + validation (its references trained on both), in that order
        report["cross_validated"] = cross_validated.estimate(
            run_dir, rows.record, predictor.meta, rows.y_train
        )
        line = cross_validated_sentence(report)
        if line:
            say(line)
    report["explanations"] = explain.explain_errors(
        predictor, report["errors"]["confident_wrong"], rows.labels, rows.task
    )
    with runs.built_aside(runs.eval_dir(run_dir, data_path)) as out:
        write_outputs(out, report, rows, model, predictor)
    return report


def transformer_outputs(predictor, rows: Rows) -> dict[str, Any]:
    """The fine-tuned model's probabilities (at its temperature, as predict gives them) and decisions."""
    logits = predictor.predict_logits(rows.texts)
    temperature = predictor.meta.get("temperature")
    probs = calibration.activate(logits, rows.task, temperature).astype(np.float32)
    tuned = predictor.thresholds or None
    return {
        "probs": probs,
        "uncalibrated": calibration.activate(logits, rows.task),
        "temperature": temperature,
        "tuned": tuned,
        "pred": decide(probs, rows.task, tuned, rows.positive),
        "pred_default": decide(probs, rows.task, None, rows.positive),
    }


def reference_outputs(rows: Rows, run_dir: Path, tuned) -> dict[str, Any]:
    """TF-IDF + LR, the frozen-embedding probe of the same base model (when it can be loaded) and the
    majority class, each fitted on the training split, with validation-tuned thresholds where the
    transformer has them."""
    task, n = rows.task, len(rows.labels)
    found: dict[str, Any] = {}
    test, val = baselines.tfidf_logreg_proba(
        rows.train, rows.y_train, [rows.texts, rows.val["text"].tolist()], task, n
    )
    found["tfidf_logreg"] = (test, _thresholds(rows, val, tuned))
    probe, info = _frozen_probe(rows, run_dir)
    if probe is not None:
        found["frozen_probe"] = (probe[0], _thresholds(rows, probe[1], tuned))
    majority = baselines.majority_proba(rows.y_train, len(rows.texts), task, n)
    found["majority_class"] = (majority, None)
    return {
        "outputs": {
            name: (decide(probs, task, cuts, rows.positive), probs) for name, (probs, cuts) in found.items()
        },
        "frozen_probe": info,
    }


def _thresholds(rows: Rows, val_probs: np.ndarray, tuned) -> list[float] | None:
    """A reference gets the transformer's treatment: thresholds tuned on its own validation scores."""
    from scripts.evaluation.thresholds import binary_threshold, tune_per_label

    if rows.task == "multilabel":
        return tune_per_label(rows.y_val, val_probs)[0]
    if rows.task == "binary" and tuned:
        return [binary_threshold((rows.y_val == rows.positive).astype(int), val_probs[:, rows.positive])[0]]
    return None


def _frozen_probe(rows: Rows, run_dir: Path) -> tuple[list[np.ndarray] | None, dict[str, Any]]:
    """The probe's test and validation probabilities, or None with the reason it could not be had."""
    from scripts.evaluation import frozen_probe
    from scripts.model.base_model import resolve_model_name

    model = rows.record["model"]
    cfg = runs.saved_config(run_dir)
    try:
        path = resolve_model_name(model["model_name"], cfg.get("allow_pickle_weights", False))
        probs, info = frozen_probe.probe_proba(
            path,
            rows.train["text"].tolist(),
            rows.y_train,
            [rows.texts, rows.val["text"].tolist()],
            rows.task,
            len(rows.labels),
            int(rows.record["max_seq_length"]),
        )
    except (UserError, OSError, ValueError) as exc:  # the base model is gone or cannot be reached now
        reason = str(exc).splitlines()[0][:200]
        say(f"frozen-embedding probe skipped: {reason}")
        return None, {"skipped": reason}
    return probs, {**info, "base_model": model["model_name"] if hub_base_model(model["model_name"]) else None}


def score_all(
    rows: Rows, model: dict[str, Any], references: dict[str, Any]
) -> tuple[dict[str, Any], np.ndarray]:
    """Every predictor's metrics on the same rows, bootstrap intervals for the fitted ones, and the
    transformer's score without the rows that have a near-copy in training."""
    task, y, labels, positive = rows.task, rows.y, rows.labels, rows.positive
    results = {"transformer": score(task, y, model["pred"], model["probs"], labels, positive)}
    for name, (pred, probs) in references["outputs"].items():
        results[name] = score(task, y, pred, probs, labels, positive)
    if model["tuned"]:
        results["transformer_at_0.5"] = score(
            task, y, model["pred_default"], model["probs"], labels, positive
        )
    # Rows with a near-copy in training are partly memorised: the score without them, beside the full one
    leaked = leakage.leaked_rows(rows.texts, rows.train["text"].tolist())
    if leaked.any() and (~leaked).any():
        keep = ~leaked
        results["transformer_unleaked"] = score(
            task, y[keep], model["pred"][keep], model["probs"][keep], labels, positive
        )
    resamples = uncertainty.resample_counts(y, task, uncertainty.RESAMPLES, seed=0)
    fitted = {"transformer": (model["pred"], model["probs"]), **references["outputs"]}
    fitted.pop("majority_class")
    for name, (pred, probs) in fitted.items():
        results[name]["intervals"] = uncertainty.intervals(
            resamples, task, y, pred, probs, positive, HEADLINE[task]
        )
    results["_paired"] = {
        name: uncertainty.paired(
            resamples, task, y, fitted["transformer"], fitted[name], positive, COLLAPSE_METRIC[task]
        )
        for name in fitted
        if name != "transformer"
    }
    return results, leaked


def assemble(run_dir: Path, rows: Rows, model, references, results, leaked) -> dict[str, Any]:
    """metrics.json: the scores, the checks that read them, calibration, leakage and the errors."""
    task, record, tuned = rows.task, rows.record, model["tuned"]
    paired = results.pop("_paired")
    collapsed, reason = collapse_check(task, results["transformer"], results["majority_class"], model["pred"])
    key = COLLAPSE_METRIC[task]
    ours, theirs = results["transformer"][key], results["tfidf_logreg"][key]
    y, probs, uncalibrated = rows.y, model["probs"], model["uncalibrated"]
    return {
        "run": record["run"],
        "model": "model/",
        "base_model": hub_base_model(record["model"]["base_model"] or ""),
        "task": task,
        "labels": rows.labels,
        "positive_label": record.get("positive_label"),
        "data": {"name": rows.name, "rows": len(rows.texts), "sha256": runs.texts_digest(rows.texts)},
        "thresholds": {
            "values": dict(
                zip(rows.labels if task == "multilabel" else [record.get("positive_label")], tuned)
            ),
            "tuned_on": "validation",
        }
        if tuned
        else None,
        "headline": HEADLINE[task],
        "results": results,
        "collapsed": collapsed,
        "collapse_check": reason,
        "beats_baseline": ours > theirs,
        "baseline_check": f"{key} {ours:.4f} vs TF-IDF + LR {theirs:.4f}",
        "paired_bootstrap": paired["tfidf_logreg"],
        "paired_bootstrap_frozen_probe": paired.get("frozen_probe"),
        "frozen_probe": references["frozen_probe"],
        "calibration": {
            "temperature": model["temperature"],
            "reason": (record.get("calibration") or {}).get("reason"),
            "ece_before": calibration.ece(uncalibrated, y, task),
            "ece_after": calibration.ece(probs, y, task),
            "brier_before": calibration.brier(uncalibrated, y, task),
            "brier_after": calibration.brier(probs, y, task),
        },
        "leakage": {
            "rows_with_near_copy_in_train": int(leaked.sum()),
            "rows": len(rows.texts),
            "threshold": leakage.THRESHOLD,
            "dedupe": runs.saved_config(run_dir).get("dedupe", "exact"),
            "moved_at_split": record["dataset"].get("split", {}).get("near_duplicates"),
        },
        "errors": error_analysis(rows.texts, y, model["pred"], probs, rows.labels, task),
    }


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument(
        "--data", help="a labelled CSV with the training file's columns (default: the run's test split)"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stop leaves the last evaluation whole
    run_dir, cfg = runs.find_from_cli(args.run)
    report = evaluate(run_dir, args.data, cfg["threads"])
    say(f"{report['run']} on {report['data']['name']} ({report['data']['rows']} rows)")
    print_table(report)
    where = runs.eval_dir(run_dir, args.data)
    say(f"wrote {where}/ (metrics.json, report.md, predictions.csv, plots)")
    if args.data:
        say("the card, push and compare keep reporting the run's own test split (eval/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
