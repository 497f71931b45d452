"""How a text longer than max_seq_length is cut: `head` (its start, the tokenizer's own truncation),
`tail` (its end) or `head+tail` (a quarter of the room for the start, the rest for the end: Sun et al.
2019, "How to Fine-Tune BERT for Text Classification?", 128 + 382 of 510 tokens, best on long reviews).

The cut is made on the text, at token boundaries, before tokenising: so training, Simple Transformers'
own validation pass, `make eval`, `make predict`, the app and explanations all see the same words, and
a user of the pushed model can repeat it (the card shows how). `auto` keeps the head unless more than
AUTO_SHARE_PCT % of the training texts are cut, then head+tail.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

MODES = ("head", "tail", "head+tail")
SETTINGS = ("auto", *MODES)
AUTO_SHARE_PCT = 5.0
HEAD_SHARE = 0.25
JOINT = " ... "  # between the kept head and tail (fit_text spells it out: the card prints its source)


def choose(setting: str, truncated_share_pct: float) -> tuple[str, str]:
    """The mode to use and why, from the setting and the share of training texts longer than the limit."""
    if setting != "auto":
        return setting, "set in the config"
    if truncated_share_pct > AUTO_SHARE_PCT:
        return "head+tail", (
            f"{truncated_share_pct}% of training texts are longer than max_seq_length (above "
            f"{AUTO_SHARE_PCT:g}%): keep the start and the end of each"
        )
    return "head", f"{truncated_share_pct}% of training texts are longer than max_seq_length: keep the start"


def room(tokenizer: Any, max_seq_length: int) -> int:
    """Tokens of text that fit beside the special tokens ([CLS] ... [SEP])."""
    return max(1, max_seq_length - tokenizer.num_special_tokens_to_add(pair=False))


def fit(texts: Sequence[str], tokenizer: Any, max_seq_length: int, mode: str) -> list[str]:
    """The texts cut to max_seq_length tokens by `mode`; texts that fit, and every text under `head` (the
    tokenizer truncates the end itself), are returned unchanged."""
    texts = ["" if t is None else str(t) for t in texts]
    if mode == "head" or not texts:
        return texts
    if mode not in MODES:
        raise ValueError(f"truncation must be one of {', '.join(SETTINGS)}, not {mode!r}")
    budget = room(tokenizer, max_seq_length)
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    share = 0.0 if mode == "tail" else HEAD_SHARE
    return [
        fit_text(t, tokenizer, max_seq_length, share) if n > budget else t for t, n in zip(texts, lengths)
    ]


# The card prints this function's source as it is (card_snippet): keep it self-contained.
def fit_text(text: str, tokenizer: Any, max_len: int, head_share: float) -> str:
    """Cut a text longer than max_len tokens as quickfit does: the first head_share of the room and the
    end, joined by " ... " (tail only when head_share is 0)."""
    room = max_len - tokenizer.num_special_tokens_to_add()
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if len(offsets) <= room:
        return text
    head = int(room * head_share)
    tail = room - head
    head_end = max((e for s, e in offsets[:head]), default=0)
    while True:  # a cut can tokenise a little longer at its joint: give tokens back from the tail
        tail_start = min((s for s, e in offsets[len(offsets) - tail :] if e > s), default=len(text))
        cut = text[tail_start:].lstrip()
        if head:
            cut = text[:head_end].rstrip() + " ... " + cut
        over = len(tokenizer(cut, add_special_tokens=False)["input_ids"]) - room
        if over <= 0 or tail <= 1:
            return cut
        tail = max(1, tail - over)


def card_snippet(mode: str, max_seq_length: int) -> str:
    """Python a model user runs before the pipeline, so long texts are cut as in training ('' for head)."""
    if mode == "head":
        return ""
    source = inspect.getsource(fit_text)
    header = source.splitlines()[0]
    share = 0.0 if mode == "tail" else HEAD_SHARE
    return source.replace(
        header,
        f"def fit_text(text, tokenizer, max_len={max_seq_length}, head_share={share}):  # truncation={mode}",
    )
