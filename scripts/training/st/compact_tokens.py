"""Training token ids stored compactly and padded per batch.

Simple Transformers tokenises every training row into three int64 tensors padded to max_seq_length
(24 bytes a position); a million rows at 128 positions is 3 GB before training starts. Here the ids of
all rows are one flat int32 array with row offsets (4 bytes a real token), tokenised in chunks so the
tokenizer's Python lists never hold the whole file, and each batch is padded to its own longest row
when it is made. A pair of texts is tokenised as the tokenizer's pair input (truncated longest first); its
token type ids are 0 up to the first segment's end and 1 after, so only that end is stored, one int32 a
row. Training uses it through a batch sampler; evaluation reads rows in order of length (sorted_batches).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

CHUNK_ROWS = 20_000


class CompactTokens:
    """A training set for a DataLoader with `batch_sampler` and `collate_fn=self.collate`."""

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        tokenizer: Any,
        max_seq_length: int,
        float_labels: bool = False,
        texts_b: Sequence[str] | None = None,
    ):
        pieces, lengths, firsts = [], [], []
        encode = _encoder(tokenizer, max_seq_length)
        for start in range(0, len(texts), CHUNK_ROWS):
            chunk: list[Any] = [str(t) for t in texts[start : start + CHUNK_ROWS]]
            if texts_b is not None:
                chunk = list(zip(chunk, (str(t) for t in texts_b[start : start + CHUNK_ROWS])))
            ids, first = encode(chunk)
            lengths.extend(map(len, ids))
            firsts.extend(first)
            pieces.append(np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int32))
        self.ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
        self.lengths = np.asarray(lengths, dtype=np.int32)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths, dtype=np.int64)])
        self.first = np.asarray(firsts, dtype=np.int32) if texts_b is not None else None  # segment A's end
        self.labels = np.asarray(labels, dtype=np.float32 if float_labels else np.int64)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.token_types = "token_type_ids" in tokenizer.model_input_names
        self.left_padding = tokenizer.padding_side == "left"

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> int:
        return index  # rows are gathered by collate

    def row(self, index: int) -> np.ndarray:
        return self.ids[self.offsets[index] : self.offsets[index + 1]]

    def collate(self, indices: list[int]) -> tuple[dict[str, Any], Any]:
        """(features, labels) as Simple Transformers' _get_inputs_dict takes them, padded to the longest."""
        import torch

        longest = int(self.lengths[indices].max())
        ids = np.full((len(indices), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(indices), longest), dtype=np.int64)
        types = np.zeros((len(indices), longest), dtype=np.int64)
        for k, i in enumerate(indices):
            row = self.row(i)
            start = longest - len(row) if self.left_padding else 0
            ids[k, start : start + len(row)], mask[k, start : start + len(row)] = row, 1
            if self.first is not None:  # the second text of a pair: token type 1
                types[k, start + int(self.first[i]) : start + len(row)] = 1
        features = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
        if self.token_types:
            features["token_type_ids"] = torch.from_numpy(types)
        return features, torch.from_numpy(self.labels[indices])

    def sorted_batches(self, batch_size: int) -> list[np.ndarray]:
        """Row indices in batches of similar length, longest first (evaluation: little padding)."""
        order = np.argsort(-self.lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + self.offsets.nbytes + self.lengths.nbytes + self.labels.nbytes


def _first_segment(type_ids: Sequence[int]) -> int:
    """Where a pair's second segment starts: its first token of type 1 (all of it when there is none)."""
    for position, kind in enumerate(type_ids):
        if kind:
            return position
    return len(type_ids)


def _encoder(tokenizer: Any, max_seq_length: int) -> Callable[[list[Any]], tuple[list[list[int]], list[int]]]:
    """Texts (or (first, second) pairs) -> truncated ids and each row's first-segment end, as
    `tokenizer(texts, truncation=True, max_length=...)` gives them (pairs: longest first). A fast
    tokenizer's Rust backend is called directly (a copy, truncating the same way) on every core: the
    Python wrapper's per-row conversions cost more than the tokenising itself."""
    backend = getattr(tokenizer, "backend_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    if backend is None:

        def slow(chunk: list[Any]) -> tuple[list[list[int]], list[int]]:
            from scripts.model.base_model import tokenize

            out = tokenize(tokenizer, chunk, truncation=True, max_length=max_seq_length)
            types = out.get("token_type_ids") or [[0] * len(ids) for ids in out["input_ids"]]
            return out["input_ids"], [_first_segment(t) for t in types]

        return slow
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(backend.to_str())
    copy.no_padding()
    copy.enable_truncation(max_seq_length, direction=getattr(tokenizer, "truncation_side", "right"))

    def encode(chunk: list[Any]) -> tuple[list[list[int]], list[int]]:
        # quickfit turns the tokenizers' thread pool off for the training loop's sake; here it is safe
        before = os.environ.get("TOKENIZERS_PARALLELISM")
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
        try:
            encodings = copy.encode_batch_fast(chunk)
            return [e.ids for e in encodings], [_first_segment(e.type_ids) for e in encodings]
        finally:
            if before is None:
                del os.environ["TOKENIZERS_PARALLELISM"]
            else:
                os.environ["TOKENIZERS_PARALLELISM"] = before

    return encode
