"""The input kind: one text a row, or a pair of texts (the other axis beside the task kind)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Inputs:
    """What a row gives the model: one text, or a pair (the tokenizer's pair input, token types where the
    architecture has them, truncated longest-first). A pair's second text is the frame's `text_b`."""

    pair: bool = False

    @property
    def columns(self) -> list[str]:
        return ["text", "text_b"] if self.pair else ["text"]

    def rows(self, frame: Any) -> list[Any]:
        """The model inputs of a frame's rows: texts, or (first, second) tuples."""
        if self.pair:
            return list(zip(frame["text"].astype(str).tolist(), frame["text_b"].astype(str).tolist()))
        return frame["text"].astype(str).tolist()

    def shown(self, frame: Any) -> list[str]:
        """Each row as a reader sees it: its text, or a pair's two texts joined by " || "."""
        if self.pair:
            return [f"{a} || {b}" for a, b in zip(frame["text"].astype(str), frame["text_b"].astype(str))]
        return frame["text"].astype(str).tolist()

    def key(self, frame: Any) -> Any:
        """One string a row, for duplicates and near-copies: a pair and its swap alike."""
        import pandas as pd

        if not self.pair:
            return frame["text"]
        keys = [PAIR_JOIN.join(sorted((a, b))) for a, b in zip(frame["text"], frame["text_b"])]
        return pd.Series(keys, index=frame.index, dtype=object)


PAIR_JOIN = "\n\u241e\n"  # between a pair's two texts where one string stands for both (a record separator)


def inputs_of(record_or_meta: dict[str, Any]) -> Inputs:
    return Inputs(pair=bool(record_or_meta.get("text_pair")))


def is_pair(rows: Sequence[Any]) -> bool:
    return bool(len(rows)) and isinstance(rows[0], tuple)
