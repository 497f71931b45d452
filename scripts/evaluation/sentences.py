"""The evaluation's findings as sentences, shared by report.md and the model card: what the model was compared
with, the paired bootstrap, calibration or a regression's interval, leakage, the label audit, a k-fold
run's cross-validated estimate. Everything reads the dict scripts.evaluate builds (eval/metrics.json)."""

from __future__ import annotations

from typing import Any

from scripts.evaluation.intervals import width_words


def trivial_name(task: str) -> str:
    """The trivial predictor a model must beat: the majority class, or a regression's training mean."""
    from scripts.common import tasks

    return "majority-class" if tasks.get(task).classifies else "training-mean"


def linear_name(task: str) -> str:
    from scripts.common import tasks

    return "logistic regression" if tasks.get(task).classifies else "ridge regression"


def references_sentence(report: dict[str, Any]) -> str:
    """What the model is compared with, in words (the card's evaluation section)."""
    task, pair = report["task"], report.get("text_pair")
    linear = linear_name(task)
    pooled = (
        "each text's mean-pooled embedding, as u, v, |u - v| and u * v"
        if pair
        else "its mean-pooled embeddings"
    )
    tfidf = "both texts' TF-IDF and their product" if pair else "TF-IDF"
    weighted = " (class-weighted)" if tasks_classify(task) else ""
    return (
        f"a frozen-embedding probe of the same base model ({linear} on {pooled}), a {tfidf} + {linear} "
        f"baseline{weighted} and a {trivial_name(task)} predictor"
    )


def tasks_classify(task: str) -> bool:
    from scripts.common import tasks

    return tasks.get(task).classifies


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


def held_out_words(record_or_report: dict[str, Any]) -> str:
    """Where the temperature and thresholds were fitted, in words: the validation split, or (k-fold) the
    out-of-fold scores of every labelled row."""
    kfold = (record_or_report.get("model_selection") or {}).get("method") == "kfold"
    return "the out-of-fold scores of every labelled row (k-fold)" if kfold else "the validation split"


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
        f"Calibration on this data: temperature scaling fitted on {held_out_words(report)} ({shown}); "
        f"expected calibration error {found['ece_before']:.4f} -> {found['ece_after']:.4f}, Brier score "
        f"{found['brier_before']:.4f} -> {found['brier_after']:.4f} (before -> after)."
    )


def interval_sentence(report: dict[str, Any]) -> str:
    """A regression's prediction interval and how often it held on the scored rows."""
    found = report.get("interval")
    if not found:
        return ""
    widths = " | ".join(width_words(found, j) for j in range(len(found["half_width"])))
    method = found.get("method", "split conformal")
    return (
        f"Prediction interval: each score {widths} ({found['level']:.0%} {method}, fitted on "
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
        ("paired_bootstrap", f"TF-IDF + {'LR' if tasks_classify(report['task']) else 'ridge'}"),
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
        f" frozen_probe: a linear model on the base model's frozen embeddings (pooling: "
        f"{probe.get('pooling', 'mean')}; {probe.get('penalty', 'C=1')}), never fine-tuned"
        f"{sample}; if it matches the transformer, fine-tuning bought nothing here."
    )


def cross_validated_sentence(report: dict[str, Any]) -> str:
    """A k-fold run's cross-validated estimate, and whether the test split is too small to stand alone."""
    from scripts.common import tasks
    from scripts.evaluation.cross_validated import sentence

    return sentence(report.get("cross_validated"), report["data"]["rows"], tasks.get(report["task"]).compare)
