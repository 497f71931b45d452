"""Training batches, pure NumPy (no torch, no Simple Transformers): length-grouped batches that keep
their class mix, and the cut of a mixed-length batch into sub-batches of similar length."""

from __future__ import annotations

from typing import Any

import numpy as np

from scripts.training.distributed import World, shard


class LengthGroupedBatches:
    """Batches of similar length from small shuffled groups, in shuffled order, each with its group's
    class mix.

    Rows are shuffled and cut into groups of `group_batches` batches. Inside a group, each class's rows
    are ranked by length and every row is placed by its length quantile within its own class; the group,
    in that order, is cut into batches. So batch j holds the j-th length slice of every class: similar
    lengths (most of a full sort's padding saving) and the group's class mix in every batch (within one
    row a class), where sorting the group by length alone made batches of one class (long spam messages
    together), which cost minority-class F1 on short fine-tunes. Without classes: sorted by length.
    Seeded by (seed, epoch), and torch is reseeded at each epoch start, so an epoch's batches and
    dropout masks do not depend on what ran before it (resuming at an epoch boundary is exact).
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        seed: int,
        start_epoch: int = 0,
        group_batches: int = 8,
        world: World | None = None,
        classes: np.ndarray | None = None,
    ):
        self.lengths, self.batch_size, self.seed = lengths, batch_size, seed
        self.classes = np.zeros(len(lengths), np.int64) if classes is None else np.asarray(classes)
        self.epoch, self.group = start_epoch, batch_size * group_batches
        self.world = world or World()
        self.share = 1.0  # this rank's rows x ranks / the global batch's rows, for the batch just given

    def __len__(self) -> int:
        full, last = divmod(len(self.lengths), self.batch_size)
        return full + (1 if last >= self.world.size else 0)

    def __iter__(self):
        import torch

        rng = np.random.default_rng([self.seed, self.epoch])
        torch.manual_seed(self.seed * 1000 + self.epoch)
        self.epoch += 1
        order = rng.permutation(len(self.lengths))
        batches = []
        for start in range(
            0, len(order), self.group
        ):  # groups are whole batches, so only the last can be short
            chunk = self._by_class_quantile(order[start : start + self.group])
            batches += [
                chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)
            ]
        for i in rng.permutation(len(batches)):
            # With several ranks (training/distributed.py) each takes its shard of the same global batch;
            # a last batch with fewer rows than ranks is left out on all of them.
            if len(batches[i]) < self.world.size:
                continue
            mine = shard(batches[i], self.world)
            self.share = len(mine) * self.world.size / len(batches[i])
            yield mine

    def _by_class_quantile(self, chunk: np.ndarray) -> np.ndarray:
        """The group's rows ordered by their length quantile within their own class, longest first (one
        batch, ungrouped: by length only, as its rows are one batch anyway)."""
        if len(chunk) <= self.batch_size:
            return chunk[np.argsort(-self.lengths[chunk], kind="stable")]
        classes = self.classes[chunk]
        position = np.empty(len(chunk))
        for value in np.unique(classes):
            rows = np.flatnonzero(classes == value)
            ranked = rows[np.argsort(-self.lengths[chunk[rows]], kind="stable")]
            position[ranked] = (np.arange(len(ranked)) + 0.5) / len(ranked)
        return chunk[np.lexsort((classes, position))]


def batch_classes(labels: np.ndarray) -> np.ndarray:
    """The class each row counts as when batches keep the class mix: its label, or for multi-hot rows
    its rarest positive label (-1 for none), so rare labels are spread over the batches too."""
    if labels.ndim == 1:
        return labels.astype(np.int64)
    positive = labels > 0
    rarest = np.where(positive, positive.sum(axis=0)[None, :], np.iinfo(np.int64).max).argmin(axis=1)
    return np.where(positive.any(axis=1), rarest, -1)


# What one more forward and backward pass costs, in token positions, until the training steps have
# measured it (pass_cost.py): all-MiniLM-L6-v2 on a 2-core CPU took 40 ms for a pass over 1 x 8 tokens
# and 0.5 ms a token position on full batches (bench/RESULTS.md).
PASS_COST_POSITIONS = 80


# Batches per length-sorted group (see LengthGroupedBatches); when grouping is used is a recipe decision.
GROUP_BATCHES = 8


SEQUENCE_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def trim_batch(inputs: dict[str, Any]) -> dict[str, Any]:
    """Cut the sequence tensors to the longest real sequence in the batch (right padding). Only the
    named sequence keys: `labels` of a multi-label batch can have the sequence's shape too."""
    mask = inputs.get("attention_mask")
    if mask is None or mask.dim() != 2:
        return inputs
    longest = int(mask.sum(dim=1).max())
    return {
        k: (v[:, :longest] if k in SEQUENCE_KEYS and v is not None and v.dim() == 2 else v)
        for k, v in inputs.items()
    }


def model_features(inputs: dict[str, Any]) -> dict[str, Any]:
    """A batch's model inputs without its labels (the loss is computed from the logits here)."""
    return {k: v for k, v in inputs.items() if k != "labels" and v is not None}
