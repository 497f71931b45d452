"""The evaluation report in words: report.md, the terminal table, and the sentences the model card reuses.

Everything here reads the dict that `scripts.evaluate.evaluate` builds (eval/metrics.json); nothing is
computed again.
"""

from __future__ import annotations

from typing import Any

from scripts.common import tasks
from scripts.evaluation.sentences import (
    audit_sentence,
    calibration_sentence,
    cross_validated_sentence,
    held_out_words,
    interval_sentence,
    leakage_sentence,
    paired_sentence,
    trivial_name,
)


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def comparison_table(report: dict[str, Any]) -> list[list[str]]:
    columns = [
        c
        for c in (
            "transformer",
            "transformer_at_0.5",
            "transformer_unleaked",
            "frozen_probe",
            "tfidf_logreg",
            "majority_class",
        )
        if c in report["results"]
    ]
    shown = {"majority_class": trivial_name(report["task"]).replace("-", "_")}
    rows = [["metric"] + [shown.get(c, c) for c in columns]]
    for key in report["headline"]:
        rows.append([key] + [with_interval(report["results"][c], key) for c in columns])
    return rows


def with_interval(result: dict[str, Any], key: str) -> str:
    """0.9800 [0.9500, 1.0000]: the score and its 95 % bootstrap interval, where there is one."""
    low_high = (result.get("intervals") or {}).get(key)
    return _fmt(result.get(key)) + (f" [{low_high[0]:.4f}, {low_high[1]:.4f}]" if low_high else "")


def audit_section(report: dict[str, Any], table: str) -> str:
    sentence = audit_sentence(report)
    return f"## Label audit\n\n{sentence}\n\n{table}" if sentence else ""


def markdown_cell(text: object) -> str:
    """A value as one Markdown table cell: a label holding `|`, a newline or HTML stays text."""
    return (
        str(text)
        .replace("\r", " ")
        .replace("\n", " ")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(map(markdown_cell, rows[0])) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(map(markdown_cell, r)) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _thresholds_and_per_class(report: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    if report["thresholds"]:
        parts += [
            f"`transformer` uses the thresholds tuned on {held_out_words(report)}; `transformer_at_0.5` the "
            "plain 0.5 cut-off.",
            "",
            markdown_table(
                [["label", "threshold"]]
                + [[k, f"{v:.2f}"] for k, v in report["thresholds"]["values"].items()]
            ),
            "",
        ]
    per_class = report["results"]["transformer"].get("per_class")
    if per_class:
        rows = [["label", "precision", "recall", "F1", "support"]] + [
            [n, f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}", str(c["support"])]
            for n, c in per_class.items()
        ]
        parts += ["## Per class", "", markdown_table(rows), ""]
    return parts


def render_report(report: dict[str, Any], record: dict[str, Any], audit_table: str = "") -> str:
    flag = (
        "**COLLAPSED: " + report["collapse_check"] + ". Do not use this model.**"
        if report["collapsed"]
        else "Not collapsed: " + report["collapse_check"] + "."
    )
    parts = [
        f"# Evaluation of {report['run']}",
        "",
        f"Data: `{report['data']['name']}` ({report['data']['rows']} rows, never used for training or for "
        f"choosing thresholds). Task: {report['task']}, {len(report['labels'])} "
        f"{'labels' if tasks.get(report['task']).classifies else 'targets'}.",
        "",
        flag,
        "",
        cross_validated_sentence(report),
        "",
        markdown_table(comparison_table(report)),
        "",
        "In brackets: 95 % bootstrap intervals (stratified by class, or by target quantile; seeded). "
        + paired_sentence(report),
        "",
        leakage_sentence(report),
        "",
        calibration_sentence(report),
        interval_sentence(report),
        "",
        audit_section(report, audit_table),
        "",
    ]
    standing = baseline_standing(report)
    if standing == "below":
        parts += [
            f"**Below the TF-IDF baseline** ({report['baseline_check']}): more data or epochs may help, or "
            "the baseline may be the better model here.",
            "",
        ]
    elif standing == "tied with":
        parts += [f"Tied with the TF-IDF baseline ({report['baseline_check']}).", ""]
    parts += _thresholds_and_per_class(report)
    parts += (
        ["## Plots", ""]
        + [f"![{p}]({p})" for p in report["plots"]]
        + ["", "![training curve](../training_curve.png)", ""]
    )
    errors = report["errors"]
    if "largest_errors" in errors:
        parts += ["## Largest errors", ""]
        for e in errors["largest_errors"]:
            text = e["text"].replace("\n", " ").replace("|", "/")[:160]
            parts.append(f"- true {_scores(e['true'])}, predicted {_scores(e['predicted'])}: {text}")
        return "\n".join(parts + [""])
    parts += [f"## Error analysis ({errors['n_wrong']} wrong)", "", "Most confident wrong predictions:", ""]
    for w in errors["confident_wrong"]:
        text = w["text"].replace("\n", " ").replace("|", "/")[:160]
        parts.append(f"- {error_words(w)} (p={w['probability']:.3f}): {text}")
    parts += explained_errors(report)
    parts += ["", "Most confused pairs (true -> predicted):", ""]
    parts += [f"- {p['true']} -> {p['predicted']}: {p['count']}" for p in errors["confused_pairs"]] + [""]
    return "\n".join(parts)


def _scores(values: dict[str, float]) -> str:
    return ", ".join(f"{v:.4g}" if len(values) == 1 else f"{k} {v:.4g}" for k, v in values.items())


def baseline_standing(report: dict[str, Any]) -> str:
    """above, tied with, or below the TF-IDF baseline (a tie is a tie, never "below")."""
    if "baseline_standing" in report:
        return report["baseline_standing"]
    return "above" if report["beats_baseline"] else "below"


def print_table(report: dict[str, Any]) -> None:
    rows = comparison_table(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)))
    sentence = interval_sentence(report)
    if sentence:
        print("\n" + sentence)
    if report["collapsed"]:
        print(f"\n!!! COLLAPSED MODEL: {report['collapse_check']}. Do not use it. !!!")
    elif baseline_standing(report) != "above":
        print(f"\nNote: {baseline_standing(report)} the TF-IDF baseline ({report['baseline_check']}).")


def error_words(wrong: dict[str, Any]) -> str:
    if "kind" in wrong:
        return f"{wrong['kind']} `{wrong['label']}`"
    return f"true `{wrong['true']}`, predicted `{wrong['predicted']}`"


def explained_errors(report: dict[str, Any]) -> list[str]:
    """The most confident errors with the tokens that drove them highlighted (scripts/explain.py)."""
    items = explained_error_items(report)
    if not items:
        return []
    return [
        "",
        "### Why: token attributions",
        "",
        "Integrated gradients (Captum) on the word embeddings, for the most confident errors. Highlighted: "
        "the tokens that pushed hardest towards the wrong decision (single-label: the predicted label's "
        "logit minus the true label's; multi-label: the label's logit), with their contributions in logits.",
        "",
        *items,
    ]


def explained_error_items(report: dict[str, Any]) -> list[str]:
    lines = []
    for w in report.get("explanations") or []:
        strongest = ", ".join(f"`{t.strip()}` {s:+.2f}" for t, s in w["top_tokens"]) or "none positive"
        lines += [f"- {error_words(w)} (p={w['probability']:.3f}): {w['markdown']}", f"  ({strongest})"]
    return lines
