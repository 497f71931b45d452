"""bench.probe_blend's scoring: the end weights give each model alone, and averaging two models whose errors
differ ranks the rows better than either."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from bench.probe_blend import blended


def test_end_weights_are_each_model_and_the_average_of_independent_errors_ranks_better():
    rng = np.random.default_rng(0)
    found = {}
    for split in ("validation", "test"):
        true = rng.normal(size=2000)
        found[split] = {
            "true": true,
            "model": true + rng.normal(size=2000),
            "probe": true + rng.normal(size=2000),
        }
    alone = blended(found, 1.0)
    assert alone["test"] == spearmanr(found["test"]["model"], found["test"]["true"])[0]
    assert (
        blended(found, 0.0)["validation"]
        == spearmanr(found["validation"]["probe"], found["validation"]["true"])[0]
    )
    both = blended(found, 0.5)
    assert both["test"] > alone["test"] + 0.05 and both["test"] > blended(found, 0.0)["test"] + 0.05
