"""What `make eval` writes into its folder: metrics.json, report.md, predictions.csv, the label audit and the
plots (the folder is built aside and swapped in by the caller)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from scripts.common import runs, tasks
from scripts.evaluation import calibration, cross_validated, label_audit, plots
from scripts.evaluation.intervals import half_widths
from scripts.evaluation.report import markdown_table, render_report


def write_outputs(
    out: Path, report: dict[str, Any], rows: Any, model: dict[str, Any], predictor: Any
) -> None:
    """metrics.json, report.md, predictions.csv, the label audit and the plots, all into `out`.
    `rows`: what was scored (evaluate.Rows); `model`: the transformer's outputs on them."""
    task, labels, y, probs = rows.task, rows.labels, rows.y, model["probs"]
    scored = "test" if rows.name == "splits/test.csv" else "evaluated file"
    if rows.kind.classifies:
        report["label_audit"], audit_table = _label_audit(out, predictor, rows, probs, model["tuned"], scored)
        _write_predictions(out / "predictions.csv", rows.frame, y, model["pred"], probs, labels, task)
        report["plots"] = _plots(out, out.parent, rows.record, report, y, probs, labels, task, rows.positive)
    else:
        report["label_audit"], audit_table = None, ""
        _write_scores(out / "predictions.csv", rows.frame, y, model["pred"], labels, model.get("interval"))
        plots.regression_plots(y, model["pred"], labels, out / "predicted_vs_true.png", out / "residuals.png")
        report["plots"] = ["predicted_vs_true.png", "residuals.png"]
    if model["temperature"] is not None:
        calibration.reliability_diagram(model["uncalibrated"], probs, y, task, out / "reliability.png")
        report["plots"].append("reliability.png")
    runs.write_json(out / "metrics.json", report)
    (out / "report.md").write_text(render_report(report, rows.record, audit_table), encoding="utf-8")


def _label_audit(out: Path, predictor, rows, probs, tuned, name: str) -> tuple[dict[str, Any], str]:
    """cleanlab on out-of-sample probabilities -> eval/label_issues.csv; metrics.json (which is pushed) keeps
    only the counts and the top validation/test rows, never training texts."""
    task, labels, train, y_train, val, y_val = (
        rows.task,
        rows.labels,
        rows.train,
        rows.y_train,
        rows.val,
        rows.y_val,
    )
    inputs = rows.inputs
    parts = [(name, inputs.shown(rows.frame), rows.y, probs, "fine-tuned model")]
    skipped = None
    held_out = cross_validated.out_of_fold_outputs(out.parent, rows.record, predictor.meta, len(train))
    if held_out is not None:  # k-fold: the final model trained on every labelled row; its folds did not
        parts.append(
            ("train + validation", inputs.shown(train), y_train, held_out, "out-of-fold fine-tuned models")
        )
    else:
        parts.append(
            (
                "validation",
                inputs.shown(val),
                y_val,
                predictor.predict_proba(inputs.rows(val)),
                "fine-tuned model",
            )
        )
        if len(train) <= label_audit.MAX_TRAIN_ROWS:
            oof = label_audit.out_of_fold_baseline(train, y_train, task, len(labels))
            parts.append(("train", inputs.shown(train), y_train, oof, "cross-validated TF-IDF + LR"))
        else:
            skipped = f"training split not audited: {len(train)} rows (> {label_audit.MAX_TRAIN_ROWS})"
    issues = label_audit.audit(parts, labels, task, tuned)
    issues.to_csv(out / "label_issues.csv", index=False)
    found = label_audit.summary(issues, {part[0]: len(part[1]) for part in parts})
    found["top"] = [row for row in found["top"] if not row["split"].startswith("train")]
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


def _write_scores(path: Path, rows: pd.DataFrame, y, pred, names, interval) -> None:
    """A regression's predictions.csv: the text(s), each target's true and predicted score, its error and
    (with an interval) its bounds; the largest errors first."""
    frame = rows[[c for c in ("text", "text_b") if c in rows]].copy()
    pred = np.asarray(pred).reshape(len(rows), -1)
    width = half_widths(interval, pred) if interval else None
    for j, name in enumerate(names):
        frame[f"true_{name}"] = np.round(y[:, j], 6)
        frame[f"pred_{name}"] = np.round(pred[:, j], 6)
        frame[f"error_{name}"] = np.round(pred[:, j] - y[:, j], 6)
        if interval:
            frame[f"low_{name}"] = np.round(pred[:, j] - width[:, j], 6)
            frame[f"high_{name}"] = np.round(pred[:, j] + width[:, j], 6)
    worst = np.abs(pred - y).mean(axis=1)
    frame.iloc[np.argsort(-worst, kind="stable")].to_csv(path, index=False)


def _write_predictions(path: Path, rows: pd.DataFrame, y, pred, probs, labels, task) -> None:
    frame = rows[[c for c in ("text", "text_b") if c in rows]].copy().reset_index(drop=True)
    if tasks.get(task).per_label:
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
    made, kind = [], tasks.get(task)
    model = report["results"]["transformer"]
    binary = positive is not None  # one positive label: the curves and matrix are about it
    if "confusion_matrix" in model:
        names = [labels[1 - positive], labels[positive]] if binary else labels
        plots.confusion_matrix(model["confusion_matrix"], names, out / "confusion_matrix.png")
        made.append("confusion_matrix.png")
    curves = {}
    if binary:
        columns = {labels[positive]: (y == positive).astype(int)}
        scores = {labels[positive]: probs[:, positive]}
    else:
        onehot = kind.truth(y, len(labels)).astype(int)
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
    if kind.per_label and info and info.get("curves"):
        plots.threshold_curves(
            info["grid"], info["curves"], list(info["values"].values()), labels, out / "thresholds.png"
        )
        made.append("thresholds.png")
    return made
