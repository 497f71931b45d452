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

from scripts.common import runs, tasks
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.data import leakage, sources
from scripts.data.dataset import load_dataset, load_split
from scripts.evaluation import calibration, cross_validated, explain, uncertainty
from scripts.evaluation.error_analysis import error_analysis
from scripts.evaluation.metrics import COLLAPSE_METRIC, HEADLINE, collapse_check, score
from scripts.evaluation.outputs import write_outputs
from scripts.evaluation.references import reference_outputs
from scripts.evaluation.report import print_table
from scripts.evaluation.sentences import cross_validated_sentence
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
    frame: pd.DataFrame  # the scored rows: text (and text_b of a pair) and labels
    y: np.ndarray
    train: pd.DataFrame
    y_train: np.ndarray
    val: pd.DataFrame
    y_val: np.ndarray

    @property
    def kind(self) -> Any:
        return tasks.get(self.task)

    @property
    def inputs(self) -> tasks.Inputs:
        return tasks.inputs_of(self.record)

    @property
    def texts(self) -> list[Any]:
        """The model inputs of the scored rows: texts, or (first, second) pairs."""
        return self.inputs.rows(self.frame)


def load_eval_data(run_dir: Path, record: dict[str, Any], data_path: str | None) -> tuple[pd.DataFrame, str]:
    """The run's saved test split, or a labelled file read with the run's own column settings."""
    if not data_path:
        return load_split(runs.split_path(run_dir, "test"), record["task"]), "splits/test.csv"
    cfg = dict(runs.saved_config(run_dir))
    kept = "auto" if tasks.get(record["task"]).read_back_from_labels else record["task"]
    cfg.update(dataset=data_path, task=kept)
    source = sources.get_source(data_path)
    source.columns = {}
    frame = pd.concat(load_dataset(source, cfg).frames.values(), ignore_index=True)
    if tasks.inputs_of(record).pair and "text_b" not in frame:
        raise UserError(
            f"{data_path} gives one text a row, and this model reads pairs of texts; give the file both text "
            "columns the run was trained on"
        )
    if tasks.get(record["task"]).classifies:
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
    kind = tasks.get(task)
    encode = lambda f: kind.encode(f["labels"], labels)  # noqa: E731
    positive = labels.index(record["positive_label"]) if record.get("positive_label") else None
    return Rows(
        record, task, labels, positive, name, frame, encode(frame), train, encode(train), val, encode(val)
    )


def lead_metric(rows: Rows) -> str:
    """The metric that leads: the one the run chose its epoch by when it is not the task's default (the
    dataset's official metric, or `metric`), else the task's comparison metric."""
    chosen = rows.record.get("selection_metric")
    default = rows.kind.selection(rows.positive)[0]
    return chosen if chosen and chosen != default and chosen in rows.kind.headline else rows.kind.compare


def headline(kind: Any, lead: str) -> list[str]:
    """The task's headline metrics, the lead first when the run chose another metric than the task's."""
    shown = list(kind.headline)
    return [lead] + [m for m in shown if m != lead] if lead != kind.compare and lead in shown else shown


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
    explainable = rows.kind.classifies and not rows.inputs.pair
    report["explanations"] = (
        explain.explain_errors(predictor, report["errors"]["confident_wrong"], rows.labels, rows.task)
        if explainable
        else []
    )
    with runs.built_aside(runs.eval_dir(run_dir, data_path)) as out:
        write_outputs(out, report, rows, model, predictor)
    return report


def transformer_outputs(predictor, rows: Rows) -> dict[str, Any]:
    """The fine-tuned model's probabilities (at its temperature, as predict gives them) or scores, and
    decisions; a regression's prediction intervals."""
    logits = predictor.predict_logits(rows.texts)
    temperature = predictor.meta.get("temperature")
    kind = rows.kind
    probs = kind.activate(logits, temperature).astype(np.float32)
    tuned = predictor.thresholds or None
    return {
        "probs": probs,
        "uncalibrated": kind.activate(logits),
        "temperature": temperature,
        "tuned": tuned,
        "interval": predictor.meta.get("interval"),
        "pred": kind.decide(probs, tuned, rows.positive),
        "pred_default": kind.decide(probs, None, rows.positive),
    }


def score_all(
    rows: Rows, model: dict[str, Any], references: dict[str, Any]
) -> tuple[dict[str, Any], np.ndarray]:
    """Every predictor's metrics on the same rows, bootstrap intervals for the fitted ones, and the
    transformer's score without the rows that have a near-copy in training."""
    kind, y, labels, positive = rows.kind, rows.y, rows.labels, rows.positive
    results = {"transformer": kind.score(y, model["pred"], model["probs"], labels, positive)}
    for name, (pred, probs) in references["outputs"].items():
        results[name] = kind.score(y, pred, probs, labels, positive)
    if model["tuned"]:
        results["transformer_at_0.5"] = kind.score(y, model["pred_default"], model["probs"], labels, positive)
    # Rows with a near-copy in training are partly memorised: the score without them, beside the full one
    leaked = leakage.leaked_rows(leakage.row_texts(rows.frame), leakage.row_texts(rows.train))
    if leaked.any() and (~leaked).sum() > 1:
        keep = ~leaked
        results["transformer_unleaked"] = kind.score(
            y[keep], model["pred"][keep], model["probs"][keep], labels, positive
        )
    resamples = uncertainty.resample_counts(y, kind, uncertainty.RESAMPLES, seed=0)
    fitted = {"transformer": (model["pred"], model["probs"]), **references["outputs"]}
    fitted.pop("majority_class")
    for name, (pred, probs) in fitted.items():
        results[name]["intervals"] = uncertainty.intervals(
            resamples, kind, y, pred, probs, positive, list(kind.headline)
        )
    results["_paired"] = {
        name: uncertainty.paired(
            resamples, kind, y, fitted["transformer"], fitted[name], positive, lead_metric(rows)
        )
        for name in fitted
        if name != "transformer"
    }
    return results, leaked


def assemble(run_dir: Path, rows: Rows, model, references, results, leaked) -> dict[str, Any]:
    """metrics.json: the scores, the checks that read them, calibration, leakage and the errors."""
    task, record, tuned, kind = rows.task, rows.record, model["tuned"], rows.kind
    paired = results.pop("_paired")
    collapsed, reason = collapse_check(task, results["transformer"], results["majority_class"], model["pred"])
    key = lead_metric(rows)
    ours, theirs = results["transformer"][key], results["tfidf_logreg"][key]
    y, probs, uncalibrated = rows.y, model["probs"], model["uncalibrated"]
    standing = "above" if ours > theirs else "tied with" if ours == theirs else "below"
    return {
        "run": record["run"],
        "model": "model/",
        "base_model": hub_base_model(record["model"]["base_model"] or ""),
        "task": task,
        "text_pair": rows.inputs.pair,
        "labels": rows.labels,
        "positive_label": record.get("positive_label"),
        "data": {
            "name": rows.name,
            "rows": len(rows.frame),
            "sha256": runs.texts_digest(rows.frame["text"].tolist()),
        },
        "model_selection": {"method": (record.get("model_selection") or {}).get("method", "validation")},
        "thresholds": {
            "values": dict(zip(rows.labels if len(tuned) > 1 else [record.get("positive_label")], tuned)),
            "tuned_on": (record.get("calibration") or {}).get("fitted_on", "validation"),
        }
        if tuned
        else None,
        "headline": headline(kind, key),
        "lead_metric": key,
        "results": results,
        "collapsed": collapsed,
        "collapse_check": reason,
        "beats_baseline": ours > theirs,
        "baseline_standing": standing,
        "baseline_check": f"{key} {ours:.4f} vs TF-IDF + {'LR' if kind.classifies else 'ridge'} {theirs:.4f}",
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
        }
        if kind.has_temperature
        else None,
        "interval": _interval_coverage(model, y),
        "leakage": {
            "rows_with_near_copy_in_train": int(leaked.sum()),
            "rows": len(rows.frame),
            "threshold": leakage.THRESHOLD,
            "dedupe": runs.saved_config(run_dir).get("dedupe", "exact"),
            "moved_at_split": record["dataset"].get("split", {}).get("near_duplicates"),
        },
        "errors": error_analysis(rows.inputs.shown(rows.frame), y, model["pred"], probs, rows.labels, task),
    }


def _interval_coverage(model: dict[str, Any], y: np.ndarray) -> dict[str, Any] | None:
    """A regression's prediction interval (fitted on validation or out of fold) and its coverage here."""
    from scripts.evaluation.intervals import coverage

    interval = model.get("interval")
    if not interval:
        return None
    return {**interval, "test": coverage(y, model["pred"], interval)}


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument(
        "--data", help="a labelled CSV with the training file's columns (default: the run's test split)"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stop leaves the last evaluation whole
    run_dir, _ = runs.find_from_cli(args.run)
    report = evaluate(run_dir, args.data, runs.threads_here(run_dir))
    say(f"{report['run']} on {report['data']['name']} ({report['data']['rows']} rows)")
    print_table(report)
    where = runs.eval_dir(run_dir, args.data)
    say(f"wrote {where}/ (metrics.json, report.md, predictions.csv, plots)")
    if args.data:
        say("the card, push and compare keep reporting the run's own test split (eval/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
