"""Entry point: honest evaluation of a run on its held-out test split (or any labelled CSV).

    python -m scripts.evaluate [--run RUN] [--data FILE]

Writes outputs/<run>/eval/: metrics.json, report.md, predictions.csv and the plots; prints a
compact table of the transformer against TF-IDF + logistic regression and the majority class.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import UserError, run_cli
from scripts.data import leakage, sources
from scripts.data.dataset import encode_labels, load_dataset, load_split
from scripts.evaluation import baselines, calibration, explain, label_audit, metrics, plots, uncertainty
from scripts.evaluation.report import markdown_table, print_table, render_report
from scripts.model.base_model import hub_base_model
from scripts.model.inference import decide

HEADLINE = {
    "binary": [
        "accuracy",
        "balanced_accuracy",
        "precision_positive",
        "recall_positive",
        "f1_positive",
        "f1_macro",
        "roc_auc",
        "pr_auc",
        "mcc",
    ],
    "multiclass": [
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "f1_weighted",
        "f1_micro",
        "precision_macro",
        "recall_macro",
        "roc_auc_ovr",
        "mcc",
    ],
    "multilabel": [
        "f1_micro",
        "f1_macro",
        "f1_weighted",
        "f1_samples",
        "precision_micro",
        "recall_micro",
        "subset_accuracy",
        "hamming_loss",
        "lrap",
        "roc_auc_micro",
        "roc_auc_macro",
    ],
}
COLLAPSE_METRIC = {"binary": "f1_positive", "multiclass": "f1_macro", "multilabel": "f1_macro"}


def score(
    task: str, y: np.ndarray, pred: np.ndarray, probs: np.ndarray, labels: list[str], positive: int | None
) -> dict[str, Any]:
    if task == "binary":
        return metrics.binary_metrics(y, pred, probs[:, positive], positive, labels)
    if task == "multiclass":
        return metrics.multiclass_metrics(y, pred, probs, labels)
    return metrics.multilabel_metrics(y, pred, probs, labels)


def collapse_check(
    task: str, model: dict[str, Any], majority: dict[str, Any], pred: np.ndarray
) -> tuple[bool, str]:
    """A model no better than predicting the majority class is reported as collapsed, loudly."""
    key = COLLAPSE_METRIC[task]
    if task != "multilabel" and len(np.unique(pred)) == 1:
        return True, "it predicts a single class for every row"
    if model[key] <= majority[key]:
        return (
            True,
            f"its {key} {model[key]:.4f} is not above the majority-class predictor's {majority[key]:.4f}",
        )
    return False, f"{key} {model[key]:.4f} > majority-class {majority[key]:.4f}"


def error_analysis(
    texts: list[str],
    y: np.ndarray,
    pred: np.ndarray,
    probs: np.ndarray,
    labels: list[str],
    task: str,
    top: int = 10,
) -> dict[str, Any]:
    """The most confident wrong predictions and the most confused label pairs."""
    wrong: list[dict[str, Any]] = []
    pairs: dict[tuple[str, str], int] = {}
    if task == "multilabel":
        for i, j in zip(*np.nonzero(pred != y)):
            kind = "false positive" if pred[i, j] else "false negative"
            confidence = probs[i, j] if pred[i, j] else 1 - probs[i, j]
            wrong.append(
                {
                    "text": texts[i],
                    "label": labels[j],
                    "kind": kind,
                    "probability": round(float(probs[i, j]), 4),
                    "confidence": float(confidence),
                }
            )
        for i in range(len(y)):
            for a in np.flatnonzero(y[i] & (1 - pred[i])):
                for b in np.flatnonzero(pred[i] & (1 - y[i])):
                    pairs[(labels[a], labels[b])] = pairs.get((labels[a], labels[b]), 0) + 1
    else:
        for i in np.flatnonzero(pred != y):
            wrong.append(
                {
                    "text": texts[i],
                    "true": labels[y[i]],
                    "predicted": labels[pred[i]],
                    "probability": round(float(probs[i, pred[i]]), 4),
                    "confidence": float(probs[i, pred[i]]),
                }
            )
            key = (labels[y[i]], labels[pred[i]])
            pairs[key] = pairs.get(key, 0) + 1
    wrong.sort(key=lambda w: -w["confidence"])
    for w in wrong:
        w.pop("confidence")
    confused = [
        {"true": a, "predicted": b, "count": n} for (a, b), n in sorted(pairs.items(), key=lambda kv: -kv[1])
    ]
    return {"n_wrong": len(wrong), "confident_wrong": wrong[:top], "confused_pairs": confused[:top]}


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


def evaluate(run_dir: Path, data_path: str | None = None, threads: Any = "auto") -> dict[str, Any]:
    from scripts.model.inference import load_predictor  # transformers only when evaluating

    record = runs.read_record(run_dir)
    task, labels = record["task"], record["labels"]
    positive = labels.index(record["positive_label"]) if record.get("positive_label") else None
    frame, data_name = load_eval_data(run_dir, record, data_path)
    train = load_split(runs.split_path(run_dir, "train"), task)
    y = np.array(encode_labels(frame["labels"], labels, task))
    y_train = np.array(encode_labels(train["labels"], labels, task))
    texts = frame["text"].tolist()

    predictor = load_predictor(runs.model_dir(run_dir), threads)
    logits = predictor.predict_logits(texts)
    temperature = predictor.meta.get("temperature")
    probs = calibration.activate(logits, task, temperature).astype(np.float32)  # as predict gives them
    uncalibrated = calibration.activate(logits, task)
    tuned = predictor.thresholds or None
    pred_default = decide(probs, task, None, positive)
    pred = decide(probs, task, tuned, positive)

    val = load_split(runs.split_path(run_dir, "validation"), task)
    base_test, base_val = baselines.tfidf_logreg_proba(
        train, y_train, [texts, val["text"].tolist()], task, len(labels)
    )
    base_thresholds = None
    y_val = np.array(encode_labels(val["labels"], labels, task))
    if task == "multilabel":  # the baseline gets the same validation-tuned thresholds treatment
        from scripts.evaluation.thresholds import tune_per_label

        base_thresholds = tune_per_label(y_val, base_val)[0]
    elif task == "binary" and tuned:
        from scripts.evaluation.thresholds import best_threshold

        base_thresholds = [best_threshold((y_val == positive).astype(int), base_val[:, positive])[0]]
    majority_probs = baselines.majority_proba(y_train, len(texts), task, len(labels))

    base_pred = decide(base_test, task, base_thresholds, positive)
    results = {
        "transformer": score(task, y, pred, probs, labels, positive),
        "tfidf_logreg": score(task, y, base_pred, base_test, labels, positive),
        "majority_class": score(
            task, y, decide(majority_probs, task, None, positive), majority_probs, labels, positive
        ),
    }
    if tuned:
        results["transformer_at_0.5"] = score(task, y, pred_default, probs, labels, positive)
    # Rows with a near-copy in training are partly memorised: the score without them, beside the full one
    leaked = leakage.leaked_rows(texts, train["text"].tolist())
    if leaked.any() and (~leaked).any():
        keep = ~leaked
        results["transformer_unleaked"] = score(task, y[keep], pred[keep], probs[keep], labels, positive)
    # How sure the scores are: bootstrap intervals, and the transformer against the baseline on the same rows
    resamples = uncertainty.resample_counts(y, task, uncertainty.RESAMPLES, seed=0)
    for name, (p, pr) in (("transformer", (pred, probs)), ("tfidf_logreg", (base_pred, base_test))):
        results[name]["intervals"] = uncertainty.intervals(
            resamples, task, y, p, pr, positive, HEADLINE[task]
        )
    paired = uncertainty.paired(
        resamples, task, y, (pred, probs), (base_pred, base_test), positive, COLLAPSE_METRIC[task]
    )
    collapsed, reason = collapse_check(task, results["transformer"], results["majority_class"], pred)
    key = COLLAPSE_METRIC[task]
    ours, theirs = results["transformer"][key], results["tfidf_logreg"][key]
    report = {
        "run": record["run"],
        "model": "model/",
        "base_model": hub_base_model(record["model"]["base_model"] or ""),
        "task": task,
        "labels": labels,
        "positive_label": record.get("positive_label"),
        "data": {
            "name": data_name,
            "rows": len(texts),
            "sha256": runs.texts_digest(texts),
        },
        "thresholds": {
            "values": dict(zip(labels if task == "multilabel" else [record.get("positive_label")], tuned)),
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
        "paired_bootstrap": paired,
        "calibration": {
            "temperature": temperature,
            "reason": (record.get("calibration") or {}).get("reason"),
            "ece_before": calibration.ece(uncalibrated, y, task),
            "ece_after": calibration.ece(probs, y, task),
            "brier_before": calibration.brier(uncalibrated, y, task),
            "brier_after": calibration.brier(probs, y, task),
        },
        "leakage": {
            "rows_with_near_copy_in_train": int(leaked.sum()),
            "rows": len(texts),
            "threshold": leakage.THRESHOLD,
            "dedupe": runs.saved_config(run_dir).get("dedupe", "exact"),
            "moved_at_split": record["dataset"].get("split", {}).get("near_duplicates"),
        },
        "errors": error_analysis(texts, y, pred, probs, labels, task),
    }
    report["explanations"] = explain.explain_errors(
        predictor, report["errors"]["confident_wrong"], labels, task
    )
    with runs.built_aside(runs.eval_dir(run_dir, data_path)) as out:
        _write_outputs(
            out,
            report,
            record,
            predictor,
            train,
            y_train,
            val,
            y_val,
            texts,
            y,
            pred,
            probs,
            uncalibrated,
            tuned,
            data_path,
        )
    return report


def _write_outputs(
    out: Path,
    report,
    record,
    predictor,
    train,
    y_train,
    val,
    y_val,
    texts,
    y,
    pred,
    probs,
    uncalibrated,
    tuned,
    data_path,
) -> None:
    """metrics.json, report.md, predictions.csv, the label audit and the plots, all into `out`."""
    task, labels, temperature = report["task"], report["labels"], report["calibration"]["temperature"]
    positive = labels.index(record["positive_label"]) if record.get("positive_label") else None
    run_dir = out.parent
    report["label_audit"], audit_table = _label_audit(
        out,
        predictor,
        train,
        y_train,
        val,
        y_val,
        texts,
        y,
        probs,
        task,
        labels,
        tuned,
        "test" if not data_path else "evaluated file",
    )
    _write_predictions(out / "predictions.csv", texts, y, pred, probs, labels, task)
    report["plots"] = _plots(out, run_dir, record, report, y, probs, labels, task, positive)
    if temperature is not None:
        calibration.reliability_diagram(uncalibrated, probs, y, task, out / "reliability.png")
        report["plots"].append("reliability.png")
    runs.write_json(out / "metrics.json", report)
    (out / "report.md").write_text(render_report(report, record, audit_table), encoding="utf-8")


def _label_audit(
    out: Path, predictor, train, y_train, val, y_val, texts, y, probs, task, labels, tuned, name: str
) -> tuple[dict[str, Any], str]:
    """cleanlab on out-of-sample probabilities -> eval/label_issues.csv; metrics.json (which is pushed) keeps
    only the counts and the top validation/test rows, never training texts."""
    parts = [
        (name, texts, y, probs, "fine-tuned model"),
        (
            "validation",
            val["text"].tolist(),
            y_val,
            predictor.predict_proba(val["text"].tolist()),
            "fine-tuned model",
        ),
    ]
    skipped = None
    if len(train) <= label_audit.MAX_TRAIN_ROWS:
        oof = label_audit.out_of_fold_baseline(train, y_train, task, len(labels))
        parts.append(("train", train["text"].tolist(), y_train, oof, "cross-validated TF-IDF + LR"))
    else:
        skipped = f"training split not audited: {len(train)} rows (> {label_audit.MAX_TRAIN_ROWS})"
    issues = label_audit.audit(parts, labels, task, tuned)
    issues.to_csv(out / "label_issues.csv", index=False)
    found = label_audit.summary(issues, {part[0]: len(part[1]) for part in parts})
    found["top"] = [row for row in found["top"] if row["split"] != "train"]
    found["skipped"] = skipped
    table = markdown_table(
        [["split", "text", "given", "suggested", "confidence", "evidence"]]
        + [
            [
                r["split"],
                str(r["text"])[:120].replace("|", "/"),
                str(r["given"]),
                str(r["suggested"]),
                f"{r['confidence']:.3f}",
                r["evidence"],
            ]
            for r in issues.head(10).to_dict(orient="records")
        ]
    )
    return found, table


def _write_predictions(path: Path, texts, y, pred, probs, labels, task) -> None:
    frame = pd.DataFrame({"text": texts})
    if task == "multilabel":
        for j, name in enumerate(labels):
            frame[f"true_{name}"] = y[:, j]
            frame[f"pred_{name}"] = pred[:, j]
    else:
        frame["true"] = [labels[i] for i in y]
        frame["predicted"] = [labels[i] for i in pred]
    for j, name in enumerate(labels):
        frame[f"prob_{name}"] = np.round(probs[:, j], 6)
    frame.to_csv(path, index=False)


def _plots(out: Path, run_dir: Path, record, report, y, probs, labels, task, positive) -> list[str]:
    made = []
    model = report["results"]["transformer"]
    if "confusion_matrix" in model:
        names = [labels[1 - positive], labels[positive]] if task == "binary" else labels
        plots.confusion_matrix(model["confusion_matrix"], names, out / "confusion_matrix.png")
        made.append("confusion_matrix.png")
    curves = {}
    if task == "binary":
        columns = {labels[positive]: (y == positive).astype(int)}
        scores = {labels[positive]: probs[:, positive]}
    else:
        onehot = y if task == "multilabel" else np.eye(len(labels), dtype=int)[y]
        support = onehot.sum(0)
        order = [j for j in np.argsort(-support) if 0 < support[j] < len(onehot)][:6]
        columns = {labels[j]: onehot[:, j] for j in order}
        scores = {labels[j]: probs[:, j] for j in order}
        if onehot.sum() and (onehot == 0).any():
            columns["micro-average"] = onehot.ravel()
            scores["micro-average"] = probs.ravel()
    for name, truth in columns.items():
        fpr, tpr, _ = skm.roc_curve(truth, scores[name])
        precision, recall, _ = skm.precision_recall_curve(truth, scores[name])
        curves[name] = {
            "fpr": fpr,
            "tpr": tpr,
            "precision": precision,
            "recall": recall,
            "auc": skm.auc(fpr, tpr),
            "ap": skm.average_precision_score(truth, scores[name]),
        }
    if curves:
        plots.roc_pr_curves(curves, out / "roc_pr.png")
        made.append("roc_pr.png")
    if "per_class" in model:
        plots.per_class_f1(
            model["per_class"], out / "per_class_f1.png", report["results"]["tfidf_logreg"].get("per_class")
        )
        made.append("per_class_f1.png")
    info = record.get("thresholds")
    if task == "multilabel" and info and info.get("curves"):
        plots.threshold_curves(
            info["grid"], info["curves"], list(info["values"].values()), labels, out / "thresholds.png"
        )
        made.append("thresholds.png")
    return made


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.evaluate", description=__doc__.splitlines()[0])
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
