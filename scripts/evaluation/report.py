"""The evaluation report in words: report.md, the terminal table, and the sentences the model card reuses.

Everything here reads the dict that `scripts.evaluate.evaluate` builds (eval/metrics.json); nothing is
computed again.
"""

from __future__ import annotations

from typing import Any


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
    rows = [["metric"] + columns]
    for key in report["headline"]:
        rows.append([key] + [with_interval(report["results"][c], key) for c in columns])
    return rows


def with_interval(result: dict[str, Any], key: str) -> str:
    """0.9800 [0.9500, 1.0000]: the score and its 95 % bootstrap interval, where there is one."""
    low_high = (result.get("intervals") or {}).get(key)
    return _fmt(result.get(key)) + (f" [{low_high[0]:.4f}, {low_high[1]:.4f}]" if low_high else "")


def audit_sentence(report: dict[str, Any]) -> str:
    found = report.get("label_audit")
    if not found:
        return ""
    counts = ", ".join(f"{found['flagged'][k]} of {found['rows'][k]} {k} rows" for k in found["rows"])
    return (
        f"Label audit: cleanlab flags {counts} as possibly mislabelled (out-of-sample probabilities; "
        "nothing was dropped; all of them in `eval/label_issues.csv`)."
        + (f" {found['skipped']}." if found.get("skipped") else "")
    )


def audit_section(report: dict[str, Any], table: str) -> str:
    sentence = audit_sentence(report)
    return f"## Label audit\n\n{sentence}\n\n{table}" if sentence else ""


def calibration_sentence(report: dict[str, Any]) -> str:
    found = report.get("calibration")
    if not found:
        return ""
    if found["temperature"] is None:
        why = found.get("reason") or "calibrate=False"
        return (
            f"Calibration (not scaled: {why}): expected calibration error "
            f"{found['ece_before']:.4f}, "
            f"Brier score {found['brier_before']:.4f}."
        )
    t = found["temperature"]
    shown = f"T = {t}" if isinstance(t, float) else f"one T per label, {min(t):.2f} to {max(t):.2f}"
    return (
        f"Calibration on this data: temperature scaling fitted on validation ({shown}); expected "
        f"calibration error {found['ece_before']:.4f} -> {found['ece_after']:.4f}, Brier score "
        f"{found['brier_before']:.4f} -> {found['brier_after']:.4f} (before -> after)."
    )


def interval_sentence(report: dict[str, Any]) -> str:
    """A regression's prediction interval and how often it held on the scored rows."""
    found = report.get("interval")
    if not found:
        return ""
    widths = ", ".join(f"{w:.4g}" for w in found["half_width"])
    return (
        f"Prediction interval: each score +- {widths} ({found['level']:.0%} split conformal, fitted on "
        f"{found['rows']} {found['fitted_on']} rows); it covers {found['test']['covered']:.1%} of these "
        f"{found['test']['rows']} rows."
    )


def leakage_sentence(report: dict[str, Any]) -> str:
    found = report.get("leakage")
    if not found:
        return ""
    sentence = (
        f"Leakage check: {found['rows_with_near_copy_in_train']} of {found['rows']} evaluation rows have a "
        f"near-copy in the training split (character 5-gram Jaccard >= {found['threshold']}); "
        "`transformer_unleaked` is the score on the others."
        if found["rows_with_near_copy_in_train"]
        else "Leakage check: no evaluation row has a near-copy in the training split "
        f"(character 5-gram Jaccard >= {found['threshold']})."
    )
    moved = found.get("moved_at_split")
    if moved:  # dedupe=near at training: say what it did to validation, test and training
        said = [
            f"{n} {key.split('_')[0]} rows with a near-copy in training moved to training"
            if key.endswith("moved_to_train")
            else f"{n} training rows dropped as near-copies of {key.rsplit('_', 1)[1]} rows"
            for key, n in moved.items()
        ]
        sentence += f" At the split, dedupe=near: {'; '.join(said)}."
    return sentence


def paired_sentence(report: dict[str, Any]) -> str:
    """The transformer against each fitted reference on the same resampled rows."""
    said = []
    for key, name in (
        ("paired_bootstrap_frozen_probe", "the frozen-embedding probe"),
        ("paired_bootstrap", "TF-IDF + LR"),
    ):
        paired = report.get(key)
        if not paired:
            continue
        low, high = paired["difference_interval"]
        said.append(
            f"Transformer minus {name}, {paired['metric']}, paired bootstrap over the same test rows "
            f"({paired['resamples']} resamples): 95 % interval [{low:+.4f}, {high:+.4f}]; the transformer is "
            f"ahead in {100 * paired['transformer_wins_share']:.1f} % of resamples."
        )
    return " ".join(said) + probe_note(report)


def probe_note(report: dict[str, Any]) -> str:
    """What the frozen probe is, or why it is missing: the answer to "was fine-tuning worth it?"."""
    probe = report.get("frozen_probe")
    if not probe:
        return ""
    if probe.get("skipped"):
        return f" (No frozen-embedding probe: {probe['skipped']}.)"
    sample = (
        f", a sample of {probe['train_rows']:,} of the {probe['of_train_rows']:,} training rows"
        if probe["train_rows"] < probe["of_train_rows"]
        else ""
    )
    return (
        f" frozen_probe: a linear model on the base model's {probe.get('pooling', 'mean')}-pooled embeddings, "
        "never fine-tuned"
        f"{sample}; if it matches the transformer, fine-tuning bought nothing here."
    )


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
            "`transformer` uses the thresholds tuned on the validation split; `transformer_at_0.5` the plain "
            "0.5 cut-off.",
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


def cross_validated_sentence(report: dict[str, Any]) -> str:
    """A k-fold run's cross-validated estimate, and whether the test split is too small to stand alone."""
    from scripts.common import tasks
    from scripts.evaluation.cross_validated import sentence

    return sentence(report.get("cross_validated"), report["data"]["rows"], tasks.get(report["task"]).compare)


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
        f"{'targets' if report['task'] == 'regression' else 'labels'}.",
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
