"""quickfit's two Simple Transformers models: its own loop (a subclass, no loop of quickfit's) with the fast
paths and patches. Importing this module imports Simple Transformers (~14 s): only training does.

  * training token ids stored compactly and padded per batch (compact_tokens.py; Simple Transformers pads
    every row to max_seq_length in int64), batches grouped by length (batching.py); evaluation batches
    trimmed to their longest real sequence; a training batch of mixed lengths run as sub-batches of similar
    length under one optimizer step, cut at a fixed pass cost (one fitted from the steps' times,
    pass_cost.py, is a bench variant: it made the cuts, and with them the dropout masks, follow the load);
  * the patches of patches.py (resume, safe checkpoint loading, fused AdamW, bf16);
  * one multi-label path on transformers' own sequence-classification head for every architecture;
  * class weights for every architecture (it refuses them for some), bf16 autocast (it has fp16 only);
  * each epoch's validation outputs kept beside the checkpoint, so the saved model can be checked
    against them;
  * DistributedDataParallel over torchrun's ranks (it has only nn.DataParallel): see distributed.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
from simpletransformers.classification import ClassificationModel, MultiLabelClassificationModel
from torch.utils.data import DataLoader

from scripts.common.length_runs import sub_batches
from scripts.common.runtime import bf16_autocast
from scripts.training.distributed import World, broadcast, wrap
from scripts.training.st.batching import (
    LengthGroupedBatches,
    batch_classes,
    model_features,
    trim_batch,
)
from scripts.training.st.checkpoint_files import EpochCheckpoints
from scripts.training.st.compact_tokens import CompactTokens
from scripts.training.st.evaluation import EvaluationPass
from scripts.training.st.pass_cost import PassCost
from scripts.training.st.patches import (
    STOP,
    float_outputs,
    fused_adamw,
    restored_optimizer,
    stretched_schedule,
    tracked_grad_scaler,
)


class FastPaths(EvaluationPass, EpochCheckpoints):
    start_epoch = 0
    group_batches = 1  # 1: random batches (still trimmed); GROUP_BATCHES: length-grouped
    schedule_factor = 1.0  # k-fold's final model: the LR schedule laid out over the folds' epochs
    resume_dir: Path | None = None
    precision = "fp32"
    scaler = None

    def _get_inputs_dict(self, batch, *args, **kwargs):
        if STOP.is_set():  # a stop signal some library swallowed: stop at the next batch
            raise KeyboardInterrupt
        inputs = super()._get_inputs_dict(batch, *args, **kwargs)
        return trim_batch(inputs) if self.tokenizer.padding_side == "right" else inputs

    world = World()
    ddp = None  # the DistributedDataParallel wrapper, for training forward passes with several ranks
    batches: LengthGroupedBatches | None = None
    keep_class_mix = False  # grouping_class_mix: grouped batches keep their group's class mix

    # sub_batches: a training batch runs as runs of similar length (sub_batches()), this the cost of
    # one more pass in token positions; None: off.
    pass_cost: float | None = None
    pass_timer: PassCost | None = None
    # True: pass_timer refits pass_cost from the steps' times (pass_cost.py; bench variant CF). Off by
    # default: where a batch is cut decides which dropout mask each row gets, so a cost that follows the
    # machine's load made two runs of one seed train different models (Reuters R8, 64 rows: macro-F1
    # 0.8349 and 0.8153, bench/SMALL_DATA.md), for 1.03x the speed (bench/sub_batches/pass_cost_C_C0.md).
    fit_pass_cost = False

    def _calculate_loss(self, model, inputs, loss_fct, num_labels, args):
        training = model is self.model and self.model.training  # not an nn.DataParallel copy
        step = self.ddp is not None and training
        split = self.pass_cost is not None and training and not step
        forward = self._sub_batched_loss if split else self._forward_loss
        with bf16_autocast(self.precision):  # a training step goes through DDP, evaluation does not
            loss, *rest = float_outputs(
                forward(self.ddp if step else model, inputs, loss_fct, num_labels, args)
            )
        if step and self.batches is not None:
            loss = loss * self.batches.share  # DDP averages the ranks' losses: weigh uneven shards
        return (loss, *rest)

    task_kind = None  # scripts.common.tasks.Task: the loss, what evaluation scores
    loss_weight = None  # class weights (single-label) or pos_weight (multi-label), a tensor on the device

    def _forward_loss(self, model, inputs, loss_fct, num_labels, args):
        """One forward pass and the task's loss (cross-entropy, per-label BCE or MSE on standardised
        targets), with its class weights or pos_weight: the same for every architecture."""
        logits = model(**model_features(inputs)).logits
        return self._loss(logits, inputs["labels"]), logits

    def _loss(self, logits, labels):
        return self.task_kind.loss(logits, labels, self.loss_weight)

    def _sub_batched_loss(self, model, inputs, loss_fct, num_labels, args):
        """One training batch as runs of similar length, each padded to its own longest row, with the
        loss computed once over all their logits in the batch's order: the same loss and gradient as
        the whole batch's (up to float rounding), one optimizer step, less padding."""
        mask = inputs.get("attention_mask")
        if mask is None or mask.dim() != 2 or self.tokenizer.padding_side != "right":
            return self._forward_loss(model, inputs, loss_fct, num_labels, args)
        lengths = mask.sum(dim=1).cpu().numpy()
        timer = self.pass_timer
        runs = sub_batches(lengths, timer.positions if timer else self.pass_cost)
        if timer:
            timer.begin(len(runs), sum(len(rows) * int(lengths[rows].max()) for rows in runs))
        if len(runs) == 1:
            return self._forward_loss(model, inputs, loss_fct, num_labels, args)
        features = model_features(inputs)
        pieces = []
        for rows in runs:
            index = torch.from_numpy(rows).to(mask.device)
            outputs = model(**trim_batch({k: v[index] for k, v in features.items()}))
            pieces.append(outputs.logits if hasattr(outputs, "logits") else outputs[0])
        back = torch.from_numpy(np.argsort(np.concatenate(runs))).to(mask.device)
        logits = torch.cat(pieces)[back]
        return self._loss(logits, inputs["labels"]), logits

    def set_loss_weight(self, weight: list[float] | None) -> None:
        """Class weights (cross-entropy) or pos_weight (BCE) for every architecture (Simple Transformers
        refuses class weights for some)."""
        self.loss_weight = torch.tensor(weight, dtype=torch.float32, device=self.device) if weight else None

    def load_and_cache_examples(self, examples, evaluate=False, *args, **kwargs):
        """Training rows (texts, or pairs as text_a/text_b) as compact token ids, padded per batch
        (compact_tokens.py)."""
        if evaluate or not isinstance(examples, tuple) or len(examples) not in (2, 3):
            return super().load_and_cache_examples(examples, evaluate, *args, **kwargs)
        texts, *pair, labels = examples
        return self._compact(texts, labels, pair[0] if pair else None)

    def train(self, train_dataloader, output_dir, *args, **kwargs):
        dataset = train_dataloader.dataset
        lengths_known = isinstance(dataset, CompactTokens)
        if lengths_known:
            lengths, collate = dataset.lengths, dataset.collate
        else:
            masks = dataset.examples["attention_mask"] if hasattr(dataset, "examples") else None
            lengths = None if masks is None else masks.reshape(len(dataset), -1).sum(dim=1).numpy()
            collate = None
        if lengths is not None:
            self.batches = LengthGroupedBatches(
                lengths,
                self.args.train_batch_size,
                self.args.manual_seed,
                start_epoch=self.start_epoch,
                group_batches=self.group_batches,
                world=self.world,
                classes=self._mix_classes(dataset.labels) if self.keep_class_mix and lengths_known else None,
            )
            train_dataloader = DataLoader(
                dataset, batch_sampler=self.batches, num_workers=0, collate_fn=collate
            )
        elif self.world.distributed:
            raise RuntimeError("several ranks need the length-grouped batch sampler (no attention masks)")
        if self.world.distributed:
            self.ddp = wrap(self.model, self.world)
        resuming = restored_optimizer(self.resume_dir) if self.resume_dir else nullcontext()
        scaler = tracked_grad_scaler(self, self.resume_dir)
        stretch = stretched_schedule(self.schedule_factor) if self.schedule_factor != 1 else nullcontext()
        with fused_adamw(), resuming, scaler, stretch, self.curves(), self.timed_passes():
            return super().train(train_dataloader, output_dir, *args, **kwargs)

    def _mix_classes(self, labels: np.ndarray) -> np.ndarray:
        """What a batch's mix keeps: classes, a multi-hot row's rarest label, or a target's quantile."""
        if self.task_kind.classifies:
            return batch_classes(labels)
        from scripts.common.tasks import quantile_bins

        return quantile_bins(labels.reshape(len(labels), -1)[:, 0])

    @contextmanager
    def timed_passes(self) -> Iterator[None]:
        """With sub-batches on, time each training step's forward and backward passes (pass_cost.py):
        a step ends when its gradient reaches the input embeddings, the last one backward computes."""
        embeddings = self.model.get_input_embeddings()
        weight = getattr(embeddings, "weight", None)
        if self.pass_cost is None or not self.fit_pass_cost or weight is None or not weight.requires_grad:
            yield
            return
        on_gpu = weight.is_cuda
        self.pass_timer = PassCost(self.pass_cost, torch.cuda.synchronize if on_gpu else None)
        hook = weight.register_post_accumulate_grad_hook(lambda _: self.pass_timer.end())
        try:
            yield
        finally:
            hook.remove()

    @contextmanager
    def curves(self) -> Iterator[None]:
        """TensorBoard beside Simple Transformers' own loss and learning-rate scalars: the gradient norm
        at every step (the value its clipping computes and drops) and each epoch's validation metrics."""
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=self.args.tensorboard_dir)
        clip = torch.nn.utils.clip_grad_norm_
        steps = {"n": 0}

        def clip_and_log(parameters, max_norm, *args, **kwargs):
            norm = clip(parameters, max_norm, *args, **kwargs)
            steps["n"] += 1
            self.writer.add_scalar("train/grad_norm", float(norm), steps["n"])
            return norm

        torch.nn.utils.clip_grad_norm_ = clip_and_log
        try:
            yield
        finally:
            torch.nn.utils.clip_grad_norm_ = clip
            self.writer.close()
            self.writer = None

    def _evaluate_during_training(self, *args, **kwargs):
        """Rank 0 evaluates; every rank gets its scores, so all take the same early-stopping decision."""
        if not self.world.distributed:
            return super()._evaluate_during_training(*args, **kwargs)
        results = super()._evaluate_during_training(*args, **kwargs) if self.world.main else None
        return broadcast(results)


class QuickClassificationModel(FastPaths, ClassificationModel):
    pass


class QuickMultiLabelModel(FastPaths, MultiLabelClassificationModel):
    """Simple Transformers' multi-label loop over transformers' AutoModelForSequenceClassification
    (problem_type multi_label_classification), with the pos_weight'ed BCE loss computed here. What
    is trained is exactly what a plain transformers load gives back, for every architecture.

    Why the upstream constructor is not called: it picks the model class from its own table, which has no
    `auto`, DeBERTa-v3 or ModernBERT entry and an ELECTRA head of its own that transformers does not load
    (tests/test_st_workarounds.py fails when that changes). This one sets what the inherited loop reads
    (args, config, model, tokenizer, device, loss) and nothing else."""

    def __init__(self, model_type, model_name, num_labels, pos_weight=None, args=None, use_cuda=False):
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        self.args = self._load_model_args(model_name)
        self.args.update_from_dict(args or {})
        self.is_sweeping = False
        self.device = torch.device("cuda") if use_cuda else "cpu"
        if not use_cuda:
            self.args.fp16 = False
        self.config = AutoConfig.from_pretrained(
            model_name, num_labels=num_labels, problem_type="multi_label_classification"
        )
        self.num_labels = num_labels
        self.model = AutoModelForSequenceClassification.from_pretrained(model_name, config=self.config)
        self.tokenizer = AutoTokenizer.from_pretrained(model_name)
        self.pos_weight = pos_weight
        self.set_loss_weight(pos_weight)
        self.loss_fct = None
        self.results, self.weight, self.global_attention_fn = {}, None, None
        self.args.model_name, self.args.model_type = model_name, model_type
