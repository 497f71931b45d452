"""The recipe of one training: the base model, then from the data the balancing, the sequence length, how
long texts are cut and every "auto" hyperparameter, each said with its reason (decisions in recipes.py);
and a preflight that refuses a plan that cannot train before any work is done."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scripts.common import runtime
from scripts.common.console import say
from scripts.common.errors import UserError
from scripts.data import balance
from scripts.data.dataset import Dataset
from scripts.model import architectures, base_model, probe_start, truncation, windows
from scripts.training import pair_order, recipes, tracking


def choose_model(cfg: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The base model, its architecture and the precision, before any data is read."""
    base = base_model.resolve_model_name(cfg["model_name"], cfg["allow_pickle_weights"])
    architecture = architectures.resolve(cfg["model_type"], base, runtime.offline())
    if cfg["model_type"] == "auto":
        say(f"model_type=auto -> {architecture} (config.json of {cfg['model_name']})")
    tracking.check(cfg.get("report_to", "none"))
    precision, why = runtime.resolve_precision(cfg["precision"])
    say(f"precision={cfg['precision']} -> {precision} ({why})")
    return base, {"model_type": architecture, "precision": precision}


LENGTH_SAMPLE = 20_000  # training texts measured when max_seq_length is given: the share cut within 1 %


def choose_max_seq_length(
    cfg: dict[str, Any], base: str, tokenizer: Any, train_texts: list[str]
) -> tuple[int, dict[str, Any]]:
    """auto: the 99th percentile of the training texts' token lengths; never above the model's positions."""
    limit = base_model.position_limit(base, tokenizer)
    if cfg["max_seq_length"] == "auto":
        cap, why = auto_cap(cfg, limit)
        max_len, stats = base_model.auto_max_seq_length(tokenizer, train_texts, min(cap, limit))
        say(
            f"max_seq_length=auto -> {max_len} (99th percentile of training token lengths {stats['p99']}, "
            f"rounded up to 8, cap {cap}{why}; {stats['truncated_share_pct']}% of texts truncated)"
        )
        return max_len, {**stats, "auto": True, "cap": cap}
    max_len = int(cfg["max_seq_length"])
    if max_len > limit:
        say(f"max_seq_length={max_len} is above the model's {limit} positions: {limit} is used")
        max_len = limit
    # The share cut (what truncation=auto decides on) from a sample: a big file is not tokenised twice
    rng = np.random.default_rng(cfg["manual_seed"])
    sample = [train_texts[i] for i in rng.permutation(len(train_texts))[:LENGTH_SAMPLE]]
    stats = base_model.length_stats(base_model.token_lengths(tokenizer, sample), max_len)
    say(
        f"max_seq_length={max_len}: {stats['truncated_share_pct']}% of training texts are longer"
        + (f" (a sample of {LENGTH_SAMPLE:,})" if len(sample) < len(train_texts) else "")
    )
    return max_len, stats


LONG_CONTEXT = 2048  # positions from which a base is built to read long inputs whole (ModernBERT: 8,192)


def auto_cap(cfg: dict[str, Any], positions: int) -> tuple[int, str]:
    """The cap of an auto max_seq_length: max_seq_length_cap, raised to LONG_CONTEXT for a long-context
    base (one sequence costs less than windows re-reading their overlaps) unless long_texts=chunks."""
    cap = int(cfg["max_seq_length_cap"])
    if positions >= LONG_CONTEXT and cap < LONG_CONTEXT and cfg.get("long_texts") != "chunks":
        return LONG_CONTEXT, (
            f": the base reads {positions} positions, so long texts are read whole up to {LONG_CONTEXT} "
            "tokens rather than in windows"
        )
    return cap, ""


def choose_truncation(cfg: dict[str, Any], tokenizer: Any, stats: dict[str, Any], pair: bool = False) -> str:
    """truncation: head | tail | head+tail, or auto (head+tail when many training texts are cut), said
    with its reason. The cut needs a fast tokenizer's character offsets. A pair is cut by the tokenizer,
    longest first (recorded as head: the tokenizer's own truncation)."""
    if pair:
        if cfg["truncation"] not in ("auto", "head"):
            raise UserError(
                f"truncation={cfg['truncation']} cuts one text; a pair's two texts are cut by the tokenizer, "
                "the longer one first: set truncation=auto (or head)"
            )
        say("truncation: a pair longer than max_seq_length loses tokens from its longer text first")
        return "head"
    mode, why = truncation.choose(cfg["truncation"], stats.get("truncated_share_pct", 0.0))
    if mode != "head" and not getattr(tokenizer, "is_fast", False):
        if cfg["truncation"] != "auto":
            raise UserError(
                f"truncation={mode!r} needs a fast tokenizer (character offsets) and {cfg['model_name']!r} "
                "has none; use truncation=head"
            )
        mode, why = "head", "the tokenizer has no character offsets (not a fast tokenizer)"
    say(f"truncation={cfg['truncation']} -> {mode} ({why})")
    return mode


def choose_long_texts(
    cfg: dict[str, Any],
    tokenizer: Any,
    max_len: int,
    stats: dict[str, Any],
    train_texts: list[str],
    pair: bool = False,
) -> dict[str, Any]:
    """long_texts: chunks (overlapping windows, pooled) or truncate, said with its reason; for chunks the
    overlap and the cap of windows per training text, chosen from the training texts' token lengths.
    Pairs are read together in one sequence (the model attends across the two texts), so they are never
    cut into windows."""
    if pair:
        if cfg["long_texts"] == "chunks":
            raise UserError(
                "long_texts=chunks reads one long text in windows; a pair's two texts must be read together "
                "in one sequence (the model compares them token by token), so it does not apply to pairs: "
                "set long_texts=auto or truncate (or a longer max_seq_length)"
            )
        say(f"long_texts={cfg['long_texts']} -> truncate (a pair is read in one sequence, never in windows)")
        return {"long_texts": "truncate", "window_overlap": None, "windows_per_text": None}
    mode, why = windows.choose(
        cfg["long_texts"], stats.get("truncated_share_pct", 0.0), getattr(tokenizer, "is_fast", False)
    )
    if mode != "chunks":
        say(f"long_texts={cfg['long_texts']} -> truncate ({why})")
        return {"long_texts": "truncate", "window_overlap": None, "windows_per_text": None}
    room = truncation.room(tokenizer, max_len)
    overlap = windows.overlap_for(cfg["window_overlap"], room)
    rng = np.random.default_rng(cfg["manual_seed"])
    sample = [train_texts[i] for i in rng.permutation(len(train_texts))[:LENGTH_SAMPLE]]
    cap, cost = windows.choose_cap(base_model.token_lengths(tokenizer, sample), room, overlap)
    say(
        f"long_texts={cfg['long_texts']} -> chunks ({why}): windows of {max_len} tokens sharing {overlap}; "
        f"at most {cap} per training text (about {cost}x the token positions of truncation, budget "
        f"{windows.COST_BUDGET:g}x); every window is read and averaged when scoring"
    )
    return {"long_texts": "chunks", "window_overlap": overlap, "windows_per_text": cap}


@dataclass
class Plan:
    """One training, resolved: the config with every "auto" filled in, the balanced training frame and
    the validation frame (labels encoded), the sequence length and the selection metric."""

    cfg: dict[str, Any]
    balanced: balance.Balanced
    train_df: pd.DataFrame
    val_df: pd.DataFrame
    max_len: int
    stats: dict[str, Any]
    threads: int
    metric_name: str
    metric_fn: Any
    selection: Any = None  # kfold.Selection: how the epoch count is chosen


def make_plan(cfg: dict[str, Any], dataset: Dataset, splits: dict[str, pd.DataFrame], base: str) -> Plan:
    """Balancing, sequence length and the "auto" hyperparameters, each said with its reason. Reads the
    train and validation splits only (a sweep's trials never pass a test split)."""
    balanced = _balanced(cfg, dataset, splits["train"])
    tokenizer = base_model.load_tokenizer(base)  # one load for the length, the truncation and the cut
    train_rows = dataset.inputs.rows(splits["train"])
    max_len, stats = choose_max_seq_length(cfg, base, tokenizer, train_rows)
    cut = choose_truncation(cfg, tokenizer, stats, dataset.text_pair)
    long_texts = choose_long_texts(cfg, tokenizer, max_len, stats, train_rows, dataset.text_pair)
    positives = (
        int((splits["validation"]["labels"] == dataset.positive_label).sum())
        if dataset.positive_label is not None
        else 0
    )
    helps = recipes.probe_start_helps(dataset.task, len(splits["train"]), len(dataset.label_names))
    chosen, reasons = recipes.choose(
        cfg,
        dataset.task,
        len(splits["train"]),
        len(dataset.label_names),
        positives,
        body_unsuited=check_probe_start(cfg, base, helps),
    )
    swap, why = pair_order.choose(cfg, dataset.text_pair)
    cfg = {**cfg, **chosen, "swap_pairs": swap}
    reasons += [f"swap_pairs={swap}: {why}"] if dataset.text_pair else []
    runtime_chosen, runtime_reasons = recipes.choose_runtime(cfg, rows_per_epoch=len(balanced.train))
    for reason in reasons + runtime_reasons:
        say(f"recipe: {reason}")
    cfg = {
        **cfg,
        **runtime_chosen,
        "max_seq_length": max_len,
        "truncation": cut,
        **long_texts,
        "balance": balanced.method,
        "task": dataset.task,
        "text_pair": dataset.text_pair,
        "positive_label": dataset.positive_label or cfg["positive_label"],
    }
    threads = runtime.set_threads(cfg["threads"])
    positive_id = dataset.label_names.index(dataset.positive_label) if dataset.positive_label else None
    metric_name, metric_fn = selection_metric(cfg, dataset, positive_id)
    train_df, val_df, cfg["target_scale"] = model_frames(
        cfg, dataset, balanced.train, splits["validation"], tokenizer
    )
    if cfg["long_texts"] == "chunks" and balanced.method in ("class_weight", "pos_weight"):
        balanced = balance.reweighted_for_windows(balanced, train_df, dataset, cfg["pos_weight_cap"])
    check_optimizer_steps(cfg, len(train_df))
    return Plan(cfg, balanced, train_df, val_df, max_len, stats, threads, metric_name, metric_fn)


def _balanced(cfg: dict[str, Any], dataset: Dataset, train: pd.DataFrame) -> balance.Balanced:
    """The training split balanced as `balance` says, said with its reason and the counts."""
    balanced = balance.rebalance(
        train,
        dataset.task,
        dataset.label_names,
        cfg["balance"],
        cfg["balance_ratio"],
        cfg["pos_weight_cap"],
        cfg["manual_seed"],
    )
    counts = (
        f"; train counts {balanced.counts_before} -> {balanced.counts_after}"
        if balanced.counts_before
        else ""
    )
    say(f"balance: {balanced.method} ({balanced.reason}){counts}")
    return balanced


def selection_metric(cfg: dict[str, Any], dataset: Dataset, positive: int | None) -> tuple[str, Any]:
    """The metric that chooses the epoch: the task's own, or the one `metric` names (the dataset's official
    metric when its preset sets it, e.g. GLUE's)."""
    wanted = cfg.get("metric", "auto")
    official = dataset.report.get("official_metric")
    if wanted == "auto" and not official:
        return dataset.kind.selection(positive)
    if wanted == "auto":
        wanted = official
        say(
            f"metric=auto -> {wanted} (the dataset's official metric): it chooses the epoch and leads the "
            "evaluation"
        )
    else:
        say(f"metric={wanted}: it chooses the epoch and leads the evaluation")
    return wanted, dataset.kind.metric(wanted, dataset.label_names, positive)


def check_probe_start(cfg: dict[str, Any], base: str, helps: bool = True) -> str | None:
    """Why the base cannot start from the frozen probe (None: it can); probe_start=True on such a base
    is refused. The body's files are read only where the answer counts: True, or auto where the start
    helps (recipes.probe_start_helps)."""
    if cfg["probe_start"] is False:
        return "set in the config"
    if cfg["probe_start"] == "auto" and not helps:
        return "not checked: enough rows to train the head from scratch"
    why = probe_start.unsuited(base, cfg["model_type"])
    if why and cfg["probe_start"] is True:
        raise UserError(
            f"probe_start=True needs a mean-pooled sentence-transformers BERT body, and "
            f"{cfg['model_name']} is {why}; set probe_start=auto or False"
        )
    return why


def model_frames(
    cfg: dict[str, Any], dataset: Dataset, train: pd.DataFrame, validation: pd.DataFrame, tokenizer: Any
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[float]] | None]:
    """What the model trains and is validated on: labels encoded as the task's targets (a regression's
    standardised with the training rows' mean and spread, returned), long texts cut by the truncation rule
    or in windows, in training and in its validation pass alike (make eval, predict and the app apply the
    same rule from quickfit.json)."""
    kind, max_len = dataset.kind, cfg["max_seq_length"]
    targets = [kind.encode(frame["labels"], dataset.label_names) for frame in (train, validation)]
    scale = kind.target_scale(targets[0])
    if scale:
        say(
            f"  targets standardised for training (mean {scale['mean']}, std {scale['std']}); the saved head "
            "outputs the data's units"
        )
    train_df, val_df = (
        frame.assign(encoded=list(kind.to_model(y, scale))) for frame, y in zip((train, validation), targets)
    )
    if cfg["long_texts"] == "chunks":
        overlap = cfg["window_overlap"]
        train_df = windows.windowed_rows(train_df, tokenizer, max_len, overlap, cfg["windows_per_text"])
        val_df = windows.windowed_rows(val_df, tokenizer, max_len, overlap, None)
        say(f"  {len(train)} training texts -> {len(train_df)} windows; validation scored per text")
        return train_df, val_df, scale
    if dataset.text_pair:  # cut by the tokenizer, longest first
        return train_df, val_df, scale
    train_df, val_df = (
        frame.assign(text=truncation.fit(frame["text"].tolist(), tokenizer, max_len, cfg["truncation"]))
        for frame in (train_df, val_df)
    )
    return train_df, val_df, scale


def check_optimizer_steps(cfg: dict[str, Any], rows: int) -> None:
    """Refuse a plan under which no optimizer step would run (the model would be published untrained):
    more gradient_accumulation_steps than an epoch has batches, or nothing to train on."""
    if rows < 2:
        raise UserError(
            f"the training split holds {rows} row(s) after the cap and the split; give more labelled rows "
            "(or raise max_train_rows)"
        )
    batches = math.ceil(rows / cfg["train_batch_size"])
    if batches < cfg["gradient_accumulation_steps"]:
        raise UserError(
            f"gradient_accumulation_steps={cfg['gradient_accumulation_steps']} is more than the {batches} "
            f"batches of an epoch ({rows} rows / train_batch_size={cfg['train_batch_size']}): no optimizer "
            f"step would run; set gradient_accumulation_steps to at most {batches}"
        )
