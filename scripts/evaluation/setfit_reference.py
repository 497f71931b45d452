"""SetFit (the `setfit` library) as a reference on the same rows: contrastive tuning of the same
sentence-transformers body on pairs built from the labels, then a logistic-regression head on its
embeddings (Tunstall et al. 2022). Used by `make curve METHODS=...,setfit` and bench/SMALL_DATA.md to
answer "does quickfit's small-data recipe beat SetFit with the same body?".

Library defaults throughout (one epoch of pairs, batches of 16, body learning rate 2e-5, a
logistic-regression head; multi-label: one-vs-rest), except the number of pairs: `num_iterations=20`
pairs per row and side, the paper's setting. The library's own default ("oversampling" every pair)
grows with the square of the rows: about 8,000 pairs at 64 SMS rows per class, 230,000 at 64 rows for
each of R8's 8 classes, hours on a CPU.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np

from scripts.common import tasks

NUM_ITERATIONS = 20


def _heartbeat(out: TextIO) -> Any:
    """A progress line at every tenth of SetFit's pair batches, with the time left at that pace: one SetFit
    fit is minutes to hours on a CPU, and everything else it would print is hushed."""
    from transformers import TrainerCallback

    from scripts.common.console import say

    class Heartbeat(TrainerCallback):
        def __init__(self) -> None:
            self.started, self.tenths = time.time(), 0

        def on_step_end(self, args, state, control, **kwargs):
            steps, done = max(state.max_steps, 1), state.global_step
            tenths = done * 10 // steps
            if tenths > self.tenths:
                self.tenths = tenths
                left = (time.time() - self.started) * (steps - done) / max(done, 1)
                eta = f"about {left / 60:.0f} min left" if left >= 90 else f"{left:.0f} s left"
                with contextlib.redirect_stdout(out):
                    say(f"SetFit pairs: {done} of {steps} batches, {eta}")

    return Heartbeat()


@contextlib.contextmanager
def _hushed() -> Iterator[None]:
    """No SetFit loss lines, progress bars or transformers warnings inside; the curve's later fits in the
    same process get the logging they had before."""
    import datasets
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), datasets.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            datasets.enable_progress_bars()


def setfit_proba(
    model_path: str,
    train_texts: list[str],
    y_train: np.ndarray,
    texts: list[str],
    task: str,
    n_labels: int,
    seed: int,
) -> np.ndarray:
    """Train SetFit on (train_texts, y_train: label ids, or a 0/1 matrix for multi-label); probabilities
    for `texts`, one column per label id."""
    import datasets
    from setfit import SetFitModel, Trainer, TrainingArguments

    from scripts.common.runtime import offline

    multilabel = tasks.get(task).per_label
    model = SetFitModel.from_pretrained(
        model_path,
        local_files_only=offline(),
        multi_target_strategy="one-vs-rest" if multilabel else None,
    )
    labels = [list(map(int, row)) for row in y_train] if multilabel else [int(v) for v in y_train]
    rows = datasets.Dataset.from_dict({"text": train_texts, "label": labels})
    out = sys.stdout  # the heartbeat's lines go where the curve's do, past the hush
    with tempfile.TemporaryDirectory(prefix="quickfit-setfit-") as work, _hushed():
        args = TrainingArguments(
            output_dir=work,
            num_iterations=NUM_ITERATIONS,
            seed=seed,
            report_to="none",
            show_progress_bar=False,
            save_strategy="no",
            logging_strategy="no",
        )
        # its loss lines (hushed) would swamp the curve's; the heartbeat says how far it is instead
        Trainer(model=model, args=args, train_dataset=rows, callbacks=[_heartbeat(out)]).train()
    raw = np.asarray(model.predict_proba(texts, show_progress_bar=False, as_numpy=True), dtype=float)
    if multilabel:
        return raw
    probs = np.zeros((len(texts), n_labels))
    probs[:, np.asarray(model.model_head.classes_, dtype=int)] = raw  # a label the draw lacked: probability 0
    return probs
