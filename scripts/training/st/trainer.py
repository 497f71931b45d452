"""The Simple Transformers adapter's front door: what the training call imports without paying for Simple
Transformers (~14 s) until a model is built. batching.py (pure), patches.py, models.py (the classes).
"""

from __future__ import annotations

import functools

from scripts.common.length_runs import sub_batches
from scripts.training.st.batching import GROUP_BATCHES, PASS_COST_POSITIONS, LengthGroupedBatches
from scripts.training.st.patches import STOP, VALIDATION_OUTPUTS

__all__ = [
    "GROUP_BATCHES",
    "PASS_COST_POSITIONS",
    "STOP",
    "VALIDATION_OUTPUTS",
    "LengthGroupedBatches",
    "model_classes",
    "sub_batches",
]


@functools.cache
def model_classes() -> dict[str, type]:
    """quickfit's single- and multi-label models (models.py), imported on first use."""
    from scripts.training.st import models

    return {"single": models.QuickClassificationModel, "multi": models.QuickMultiLabelModel}
