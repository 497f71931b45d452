"""What one more forward and backward pass costs, in token positions, measured on the training steps.

sub_batches (trainer.py) cuts a training batch where the padding it saves outweighs another pass. What a
pass costs depends on the model, the device, the threads and the batch shapes (a pass over 32 short
texts is cheaper per position than one over long ones), so a fixed figure is right for one machine and
wrong for the next. The training steps measure it themselves: each step's forward-and-backward time
against its passes and token positions, time = a x passes + b x positions, least squares over the
recent steps; a / b is the pass's cost in positions. Steps differ in positions (and often in passes),
which is what separates a from b; until enough are timed the starting figure is used.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

# The first steps allocate and warm caches: not timed into the fit.
WARM_UP_STEPS = 2
# Timed steps before the fit replaces the starting figure; the fit uses the most recent WINDOW.
MIN_STEPS = 8
WINDOW = 64
# A fitted figure outside this range is a bad fit (noise, another process), not a cost: clipped.
MOST_POSITIONS = 4096.0


class PassCost:
    """The current cost of a pass in token positions (`positions`), refitted after each timed step.

    begin(passes, positions) when a step's first forward pass starts; end() when its backward pass has
    reached the input embeddings (the last gradient it computes); `synchronize` waits for a GPU first."""

    def __init__(self, start: float, synchronize=None) -> None:
        self.positions = float(start)
        self.fitted = False
        self._synchronize = synchronize or (lambda: None)
        self._began: tuple[float, int, int] | None = None
        self.begun = self.ended = 0  # steps begun and ended (timed or warming up)
        self._steps: deque[tuple[int, int, float]] = deque(maxlen=WINDOW)

    @property
    def measured(self) -> float | None:
        """The fitted figure, rounded for the record; None while it is still the starting one."""
        return round(self.positions, 1) if self.fitted else None

    def begin(self, passes: int, positions: int) -> None:
        self._synchronize()
        self.begun += 1
        self._began = (time.perf_counter(), passes, positions)

    def end(self) -> None:
        if self._began is None:  # a backward pass this class did not see begin (not a training step)
            return
        self._synchronize()
        started, passes, positions = self._began
        self._began = None
        self.ended += 1
        if self.ended <= WARM_UP_STEPS:
            return
        self._steps.append((passes, positions, time.perf_counter() - started))
        if len(self._steps) >= MIN_STEPS:
            self._fit()

    def _fit(self) -> None:
        steps = np.array(self._steps, dtype=np.float64)
        design, seconds = steps[:, :2], steps[:, 2]
        (per_pass, per_position), _, rank, _ = np.linalg.lstsq(design, seconds, rcond=None)
        if rank < 2 or per_position <= 0:  # positions that do not vary apart from passes: nothing to learn
            return
        self.positions = float(np.clip(per_pass / per_position, 0.0, MOST_POSITIONS))
        self.fitted = True
