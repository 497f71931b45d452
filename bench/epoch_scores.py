"""One draw of make curve, looked into: what k-fold selection saw, and what the test rows say of every
epoch of the final model (trained on all the drawn rows for every epoch of its schedule, so its first k
epochs are the k-epoch model quickfit would publish). A diagnostic, not a selection: the test rows choose
nothing.

    python -m bench.epoch_scores [--data NAME] --per-class 64 --draw 1 [--set K=V ...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def test_probabilities(checkpoint: Path, texts: list[str], dataset: Any, max_len: int) -> np.ndarray:
    """The epoch's probabilities as predict computes them (the load invariant checked, length-sorted
    batches), at no temperature: the checkpoint has no quickfit.json yet."""
    from scripts.model.inference import Predictor, load_complete

    model, tokenizer = load_complete(checkpoint)
    predictor = Predictor(model.eval(), tokenizer, dataset.task, dataset.label_names, max_len)
    return predictor.predict_proba(texts)


def epoch_line(epoch: int, probs: np.ndarray, y: np.ndarray, dataset: Any) -> str:
    """The curve's metric at argmax (0.5 for binary); for binary also the false positives and negatives."""
    from scripts.common import tasks
    from scripts.evaluation.metrics import score

    task, labels = dataset.task, dataset.label_names
    pred = probs.argmax(axis=1)
    positive = labels.index(dataset.positive_label) if dataset.positive_label else None
    value = score(task, y, pred, probs, labels, positive)[tasks.get(task).curve_metric]
    line = f"epoch {epoch}: test {tasks.get(task).curve_metric} {value:.4f}"
    if task == "binary":
        fp, fn = (
            int(((pred == positive) & (y != positive)).sum()),
            int(((pred != positive) & (y == positive)).sum()),
        )
        positives = int((y == positive).sum())
        line += f" (false positives {fp}, false negatives {fn}; {positives} of {len(y)} positive)"
    return line


def main(argv: list[str] | None = None) -> None:
    from scripts import curve, train
    from scripts.common import settings
    from scripts.common.console import quiet
    from scripts.evaluation import curve_quickfit
    from scripts.training import kfold
    from scripts.training.checkpoints import epoch_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--per-class", type=int, required=True)
    parser.add_argument("--draw", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[])
    args = parser.parse_args(argv)
    cfg, _ = settings.resolve_from_cli(args.data, args.set, "epoch_scores")
    base, resolved = train.choose_model(cfg)
    cfg = {**cfg, **resolved}
    dataset, splits, _ = train.prepare(cfg)
    if dataset.task == "multilabel":
        raise SystemExit("single-label data sets only (the curve's metric at argmax)")
    seed = cfg["manual_seed"] + args.draw  # the curve's seed for this draw
    rows = curve.draw(splits["train"], dataset, args.per_class, seed=seed)
    with quiet():
        plan = kfold.plan_for(
            {**cfg, "manual_seed": seed},
            dataset,
            curve_quickfit.carve_validation(rows, dataset, cfg["validation_size"], seed),
            base,
            True,
            False,
        )

    def every_epoch(p: Any, ds: Any, b: str, work: Path, **kw: Any) -> Any:
        if p.cfg.get("checkpoint_files") == "last":  # the final model: keep every epoch of its schedule
            p.cfg = {**p.cfg, "num_train_epochs": p.cfg["schedule_epochs"], "checkpoint_files": "every"}
        return train.train_with_plan(p, ds, b, work, **kw)

    if not kfold.is_kfold(plan):
        raise SystemExit("this draw's validation split is large enough: no k-fold selection to look into")
    y, texts = curve.encoded(splits["test"], dataset), splits["test"]["text"].tolist()
    with tempfile.TemporaryDirectory(prefix="epoch-scores-") as work:
        kfold.fit(plan, dataset, base, Path(work), every_epoch)
        sel = plan.selection
        print(f"out-of-fold {plan.metric_name} by epoch: " + " ".join(f"{v:.3f}" for v in sel.per_epoch))
        print(f"chosen by k-fold: {sel.epoch} epochs")
        for epoch in range(1, plan.cfg["num_train_epochs"] + 1):
            checkpoint = epoch_checkpoint(Path(work) / "checkpoints", epoch)
            probs = test_probabilities(checkpoint, texts, dataset, plan.max_len)
            print(epoch_line(epoch, probs, y, dataset) + ("  <- chosen" if epoch == sel.epoch else ""))


if __name__ == "__main__":
    main()
