"""quickfit's evaluation pass over a validation frame, replacing Simple Transformers' own: rows (pairs with
their token types, which its pair evaluation drops) in batches of similar length, every task's raw outputs
(logits, never sigmoid probabilities, so windows, k-fold and the saved-model check read one form), the
metrics passed as keyword arguments, and a long text's windows pooled as the predictor pools them. A mixin
of models.FastPaths: it reads the model, tokenizer, args and task that class holds."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from scripts.training.st.compact_tokens import CompactTokens
from scripts.training.st.patches import VALIDATION_OUTPUTS


class EvaluationPass:
    """evaluate() and eval_model() as Simple Transformers' loop calls them."""

    def _compact(self, texts, labels, texts_b=None) -> CompactTokens:
        float_labels = self.task_kind.target_dtype == "float32"
        return CompactTokens(texts, labels, self.tokenizer, self.args.max_seq_length, float_labels, texts_b)

    def evaluate(
        self, eval_df, output_dir, multi_label=False, prefix="", verbose=True, silent=False, **kwargs
    ):
        """quickfit's evaluation pass (replacing Simple Transformers'): the frame's rows (pairs with their
        token types, which its pair evaluation drops) in batches of similar length, each trimmed to its
        longest row; the task's loss; every task's raw outputs (logits, never sigmoid probabilities), and
        the metrics passed as keyword arguments scored on them."""
        rows = self._compact(
            eval_df["text"].tolist(),
            eval_df["labels"].tolist(),
            eval_df["text_b"].tolist() if "text_b" in eval_df else None,
        )
        outputs = np.zeros((len(rows), self.num_labels), dtype=np.float32)
        total, model = 0.0, self.model
        half = torch.autocast("cuda", dtype=torch.float16) if self.args.fp16 else nullcontext()
        model.eval()
        with torch.no_grad(), half:
            for batch in rows.sorted_batches(self.args.eval_batch_size):
                features, labels = rows.collate(batch.tolist())
                inputs = {k: v.to(self.device) for k, v in {**features, "labels": labels}.items()}
                loss, logits = self._calculate_loss(model, inputs, None, self.num_labels, self.args)[:2]
                outputs[batch] = logits.float().cpu().numpy().reshape(len(batch), -1)
                total += float(loss) * len(batch)
        metrics = {name: fn(rows.labels, outputs) for name, fn in kwargs.items() if callable(fn)}
        self.window_tokens = rows.lengths - self.tokenizer.num_special_tokens_to_add(
            pair=rows.first is not None
        )
        return {**metrics, "eval_loss": total / max(len(rows), 1)}, outputs, []

    epoch_callback = None
    epochs_evaluated = 0
    writer = None

    window_owners: np.ndarray | None = None  # validation in windows: the document of each window
    window_tokens: np.ndarray | None = None  # each window's text tokens: its weight when pooled
    document_labels: list | None = None

    def eval_model(self, *args, **kwargs):
        result, outputs, wrong = super().eval_model(*args, **kwargs)
        if self.window_owners is not None:
            result, outputs = self._per_document(result, np.asarray(outputs), kwargs)
        if self.checkpoint_dir is not None:  # during training: the epoch just saved was evaluated
            np.save(
                self.checkpoint_dir / VALIDATION_OUTPUTS,
                np.asarray(outputs, dtype=np.float32),
                allow_pickle=False,
            )
            self.epochs_evaluated += 1
            self._keep_best_and_last(result)
            if self.writer is not None:
                epoch = self.start_epoch + self.epochs_evaluated
                for key, value in result.items():
                    if isinstance(value, (int, float)):
                        self.writer.add_scalar(f"validation/{key}", float(value), epoch)
            if self.epoch_callback is not None:
                self.epoch_callback(self.start_epoch + self.epochs_evaluated, result)
        return result, outputs, wrong

    epoch_scores: list | None = (
        None  # every scored epoch's selection metric, a resumed run's earlier ones too
    )

    def _keep_best_and_last(self, result: dict) -> None:
        """Only the best epoch so far (the first of equals, as the final choice takes it) and the last one
        keep their full checkpoints: a run killed with kill -9 leaves two, not one an epoch."""
        self.epoch_scores = list(self.epoch_scores or []) + [result.get(self.args.early_stopping_metric)]
        if self.checkpoint_files != "all":
            return
        scores = [float("-inf") if s is None or s != s else float(s) for s in self.epoch_scores]
        best = int(np.argmax(scores)) + 1
        self.prune_checkpoints({best, len(scores)})

    def _per_document(self, result: dict, outputs: np.ndarray, kwargs: dict) -> tuple[dict, np.ndarray]:
        """Window logits pooled per document as the predictor pools them (weighted by their tokens), then
        the metrics on documents."""
        from scripts.model.windows import pool

        labels = np.asarray(self.document_labels)
        outputs = pool(outputs, self.window_owners, len(labels), self.window_tokens)
        scored = {name: fn(labels, outputs) for name, fn in kwargs.items() if callable(fn)}
        return {**scored, "eval_loss": result.get("eval_loss")}, outputs
