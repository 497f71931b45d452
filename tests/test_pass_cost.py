"""The pass cost that sub-batches trade against padding, fitted from timed training steps."""

from __future__ import annotations

import numpy as np
import pytest

from scripts.training.st import pass_cost
from scripts.training.st.pass_cost import MIN_STEPS, WARM_UP_STEPS, PassCost


class Clock:
    """perf_counter stand-in: each step takes the seconds the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(pass_cost.time, "perf_counter", fake)
    return fake


def _step(timer: PassCost, clock: Clock, passes: int, positions: int, seconds: float) -> None:
    timer.begin(passes, positions)
    clock.now += seconds
    timer.end()


def test_the_fit_recovers_a_pass_cost_from_noisy_steps(clock):
    """Steps timed as 30 ms a pass + 0.25 ms a position (5 % noise): a pass costs 120 positions; the
    warm-up steps (slow on purpose) are left out, and the starting figure holds until enough steps."""
    rng = np.random.default_rng(0)
    timer = PassCost(start=80.0)
    for _ in range(WARM_UP_STEPS):
        _step(timer, clock, 1, 500, 5.0)
    for i in range(60):
        passes, positions = int(rng.integers(1, 4)), int(rng.integers(200, 900))
        _step(timer, clock, passes, positions, (0.030 * passes + 0.00025 * positions) * rng.normal(1, 0.05))
        if i + 1 < MIN_STEPS:
            assert timer.positions == 80.0 and not timer.fitted
    assert timer.fitted
    assert timer.positions == pytest.approx(120.0, rel=0.25)
    assert (timer.begun, timer.ended) == (62, 62)


def test_steps_that_cannot_separate_pass_from_position_keep_the_figure(clock):
    """Every step the same passes and positions: no fit; a backward pass without a begun step (not a
    training step) is not timed."""
    timer = PassCost(start=80.0)
    timer.end()
    for _ in range(WARM_UP_STEPS + 20):
        _step(timer, clock, 2, 400, 0.2)
    assert timer.positions == 80.0 and not timer.fitted
    assert timer.ended == WARM_UP_STEPS + 20
