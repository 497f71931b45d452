"""Long texts read whole: a text longer than max_seq_length is cut into overlapping windows on token
boundaries, each window is scored, and the window logits are averaged per text (per label for
multi-label), weighted by each window's tokens. Training sees the windows, each carrying its text's
labels, at most `cap` per text so one long document cannot dominate; validation, `make eval`, `make
predict`, the app, the ONNX path and the card's snippet pool every window of a text, the same way.

`long_texts=auto` reads in windows when more than AUTO_CHUNKS_PCT % of the training texts are longer
than max_seq_length (on Reuters R8, 12 % longer, windows scored below keeping the head:
bench/LONG_TEXTS.md); the cap per text is the largest that keeps the windows' token positions within
COST_BUDGET times what truncation would train on, so a run costs at most about twice as much.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

SETTINGS = ("auto", "truncate", "chunks")
AUTO_CHUNKS_PCT = 30.0  # windows are for sets where many texts are cut, not a long tail of them
COST_BUDGET = 2.0  # token positions trained with windows / with truncation, at most
OVERLAP_SHARE = 0.25  # window_overlap=auto: a quarter of the room is shared with the next window


def overlap_for(setting: Any, room: int) -> int:
    """window_overlap in tokens: auto -> a quarter of the room; never the whole room (no progress)."""
    overlap = int(room * OVERLAP_SHARE) if setting == "auto" else int(setting)
    return max(0, min(overlap, room - 1))


# The card prints these two functions' source as it is (card_snippet): keep them self-contained.
def spans(text: str, tokenizer: Any, max_len: int, overlap: int) -> list[tuple[int, int]]:
    """Where quickfit cuts a long text: overlapping windows of at most max_len tokens (special tokens
    included), on token boundaries, each sharing `overlap` tokens with the next, as character spans."""
    room = max_len - tokenizer.num_special_tokens_to_add()
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if len(offsets) <= room:
        return [(0, len(text))]
    step = max(1, room - overlap)
    out, start = [], 0
    while True:
        end = min(start + room, len(offsets))
        while True:  # a window can tokenise a little longer at its cut: give tokens back from its end
            span = (offsets[start][0], offsets[end - 1][1])
            over = len(tokenizer(text[span[0] : span[1]], add_special_tokens=False)["input_ids"]) - room
            if over <= 0 or end - start <= 1:
                break
            end = max(start + 1, end - over)
        out.append(span)
        if end >= len(offsets):
            return out
        start = max(start + 1, min(start + step, end))  # never past this window: no text skipped


def windows(text: str, tokenizer: Any, max_len: int, overlap: int) -> list[str]:
    """The text's windows (see spans); [text] when it fits. The model scores each; quickfit averages
    their logits."""
    return [text[a:b] for a, b in spans(text, tokenizer, max_len, overlap)]


def split(
    texts: Sequence[str], tokenizer: Any, max_len: int, overlap: int, cap: int | None = None
) -> tuple[list[str], np.ndarray]:
    """Every text's windows, in order, and the index of the text each window comes from. With `cap`, a
    text keeps at most cap windows, spread evenly over it (its first and last included)."""
    texts = ["" if t is None else str(t) for t in texts]
    room = max_len - tokenizer.num_special_tokens_to_add()
    # one batched tokenisation finds the long texts; only those are cut (texts that fit pass as they are)
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []
    pieces: list[str] = []
    owners: list[int] = []
    for i, (text, n) in enumerate(zip(texts, lengths)):
        parts = windows(text, tokenizer, max_len, overlap) if n > room else [text]
        if cap is not None and len(parts) > cap:
            keep = np.unique(np.round(np.linspace(0, len(parts) - 1, cap)).astype(int))
            parts = [parts[j] for j in keep]
        pieces += parts
        owners += [i] * len(parts)
    return pieces, np.asarray(owners, dtype=np.int64)


def pool(
    window_logits: np.ndarray, owners: np.ndarray, n_texts: int, tokens: np.ndarray | None = None
) -> np.ndarray:
    """Each text's window logits (raw, every task) averaged, weighted by the window's tokens so a short
    last window weighs what it holds; in text order."""
    weights = (
        np.ones(len(owners)) if tokens is None else np.maximum(np.asarray(tokens, dtype=np.float64), 1.0)
    )
    sums = np.zeros((n_texts, window_logits.shape[1]), dtype=np.float64)
    np.add.at(sums, owners, window_logits.astype(np.float64) * weights[:, None])
    totals = np.bincount(owners, weights=weights, minlength=n_texts)
    return (sums / np.maximum(totals, 1e-12)[:, None]).astype(np.float32)


def text_tokens(pieces: Sequence[str], tokenizer: Any) -> np.ndarray:
    """Each window's text tokens (no special tokens): its weight in pool()."""
    if not len(pieces):
        return np.zeros(0)
    return np.array([len(ids) for ids in tokenizer(list(pieces), add_special_tokens=False)["input_ids"]])


def window_counts(lengths: Sequence[int], room: int, overlap: int) -> np.ndarray:
    """How many windows each text of `lengths` tokens is cut into (before any cap)."""
    step = max(1, room - overlap)
    over = np.maximum(np.asarray(lengths, dtype=np.int64) - room, 0)
    return 1 + -(-over // step)


def choose_cap(lengths: Sequence[int], room: int, overlap: int) -> tuple[int, float]:
    """The most windows per training text that keeps the token positions trained within COST_BUDGET
    times truncation's, and the cost ratio at that cap (windows are taken as full; the last is shorter)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    counts = window_counts(lengths, room, overlap)
    truncated = float(np.minimum(lengths, room).sum()) or 1.0
    best, ratio = 1, 1.0
    for cap in range(2, int(counts.max(initial=1)) + 1):
        kept = np.minimum(counts, cap)
        cost = float(np.where(kept > 1, kept * room, np.minimum(lengths, room)).sum()) / truncated
        if cost > COST_BUDGET:
            break
        best, ratio = cap, cost
    return max(best, 2) if counts.max(initial=1) > 1 else 1, round(ratio, 2)


def choose(setting: str, truncated_share_pct: float, fast_tokenizer: bool) -> tuple[str, str]:
    """chunks or truncate, and why, from the setting and the share of training texts that are too long."""
    if setting == "chunks" or (setting == "auto" and truncated_share_pct > AUTO_CHUNKS_PCT):
        if not fast_tokenizer:
            return "truncate", "the tokenizer has no character offsets (not a fast tokenizer) to cut windows"
        if setting == "chunks":
            return "chunks", "set in the config"
        return "chunks", (
            f"{truncated_share_pct}% of training texts are longer than max_seq_length (above "
            f"{AUTO_CHUNKS_PCT:g}%): read them whole in overlapping windows"
        )
    if setting == "truncate":
        return "truncate", "set in the config"
    return "truncate", (
        f"{truncated_share_pct}% of training texts are longer than max_seq_length (at most "
        f"{AUTO_CHUNKS_PCT:g}%): cut them by the truncation rule"
    )


def card_snippet(max_seq_length: int, overlap: int) -> str:
    """spans() and windows() with this model's settings as windows' defaults, for the card (no type
    hints: the snippet runs as it is printed)."""
    spans_source = inspect.getsource(spans)
    spans_source = spans_source.replace(
        spans_source[: spans_source.index(":\n") + 1], "def spans(text, tokenizer, max_len, overlap):"
    )
    source = inspect.getsource(windows)
    source = source.replace(
        source[: source.index(":\n") + 1],
        f"def windows(text, tokenizer, max_len={max_seq_length}, overlap={overlap}):  # long_texts=chunks",
    )
    return spans_source + "\n\n" + source


def windowed_rows(table: Any, tokenizer: Any, max_len: int, overlap: int, cap: int | None) -> Any:
    """A frame with one row per window, carrying its text's labels and the index of its text (column
    `document`)."""
    pieces, owners = split(table["text"].tolist(), tokenizer, max_len, overlap, cap)
    return table.iloc[owners].assign(text=pieces, document=owners).reset_index(drop=True)
