"""What an epoch checkpoint of quickfit's Simple Transformers models holds, by who reads it: "all"
(weights, optimizer and scheduler: a resumable run's best epoch and its last, the others removed as
training goes; "every" keeps them all, for bench.epoch_scores), "outputs" (a k-fold fold: only
each epoch's validation outputs are read), "last" (k-fold's final model, never resumed: the weights of its
last epoch only). A fold wrote 290 MB of weights and optimizer state an epoch before.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from scripts.training.st.patches import SCALER_STATE, renumbered_checkpoint


class EpochCheckpoints:
    """A mixin before Simple Transformers' model class: its save_model, as quickfit needs it."""

    checkpoint_files = "all"
    checkpoint_dir: Path | None = None  # the epoch just saved: its validation outputs go beside it

    def save_model(self, output_dir=None, optimizer=None, scheduler=None, model=None, results=None):
        if not self.world.main:
            return  # rank 0 writes every checkpoint
        if output_dir and Path(output_dir) == Path(self.args.best_model_dir):
            return  # quickfit keeps its best epoch from the epoch checkpoints; this was a second copy
        output_dir = renumbered_checkpoint(output_dir, self.start_epoch)
        if model is not None and output_dir and self.checkpoint_files not in ("all", "every"):
            self.checkpoint_dir = Path(output_dir)
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            epoch = int(self.checkpoint_dir.name.rsplit("-", 1)[1])
            if self.checkpoint_files == "last" and epoch == self.start_epoch + self.args.num_train_epochs:
                super().save_model(output_dir, model=model)  # no optimizer: nothing resumes from it
            return
        super().save_model(output_dir, optimizer, scheduler, model=model, results=results)
        if model is not None and output_dir:
            self.checkpoint_dir = Path(output_dir)
            if self.scaler is not None and self.scaler.is_enabled():
                (self.checkpoint_dir / SCALER_STATE).write_text(json.dumps(self.scaler.state_dict()))

    def prune_checkpoints(self, keep: set[int]) -> None:
        """Remove the epoch checkpoints whose epoch is not in `keep` (a full one holds the optimizer state,
        twice the weights)."""
        for folder in Path(self.args.output_dir).glob("checkpoint-*-epoch-*"):
            epoch = folder.name.rsplit("-", 1)[1]
            if epoch.isdigit() and int(epoch) not in keep:
                shutil.rmtree(folder, ignore_errors=True)
