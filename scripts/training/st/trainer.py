"""Simple Transformers, patched: the code to delete if Simple Transformers ever fixes these things.

quickfit trains inside Simple Transformers' own loop (a subclass, no loop of its own), with:
  * training token ids stored compactly and padded per batch (compact_tokens.py; Simple Transformers pads
    every row to max_seq_length in int64), batches grouped by length (shuffled groups, reseeded per
    epoch); evaluation batches trimmed to their longest real sequence; a training batch of mixed
    lengths run as sub-batches of similar length under one optimizer step (sub_batches);
  * fused AdamW, and on resume the optimizer, LR schedule and gradient scaler restored (it restarts them);
  * checkpoint states read without unpickling (weights_only=True), onto whatever device is here;
  * one multi-label path on transformers' own sequence-classification head for every architecture
    (its multi-label classes lack DeBERTa and ModernBERT, and its ELECTRA head is not transformers');
  * class weights for every architecture (it refuses them for some), bf16 autocast (it has fp16 only);
  * each epoch's validation outputs kept beside the checkpoint, so the saved model can be checked
    against them;
  * DistributedDataParallel over torchrun's ranks (it has only nn.DataParallel): see distributed.py.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common.errors import UserError
from scripts.common.runtime import bf16_autocast
from scripts.training.distributed import World, broadcast, shard, wrap
from scripts.training.st.compact_tokens import CompactTokens
from scripts.training.st.pass_cost import PassCost

VALIDATION_OUTPUTS = "validation_outputs.npy"
SCALER_STATE = "scaler.json"


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
            # With several ranks (scripts/distributed.py) each takes its shard of the same global batch;
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


# What one more forward and backward pass costs, in token positions, until the training steps have
# measured it (pass_cost.py): all-MiniLM-L6-v2 on a 2-core CPU took 40 ms for a pass over 1 x 8 tokens
# and 0.5 ms a token position on full batches (bench/RESULTS.md).
PASS_COST_POSITIONS = 80


def sub_batches(lengths: np.ndarray, pass_cost: float = PASS_COST_POSITIONS) -> list[np.ndarray]:
    """A batch's rows (by their real lengths) cut into runs of similar length, longest first, each to be
    padded only to its own longest row: the cut with the fewest token positions plus `pass_cost` a pass
    (exact: dynamic programming over the rows sorted by length). A batch that keeps its class mix pads
    its short rows to its long ones' length; cut this way it costs about what a one-class batch costs."""
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    longest = lengths[order].astype(np.float64)
    best = np.zeros(len(order) + 1)
    start = np.zeros(len(order) + 1, dtype=np.int64)
    for end in range(1, len(order) + 1):
        # the last run is rows first..end-1, padded to row first's length (the longest of the run)
        cost = best[:end] + pass_cost + (end - np.arange(end)) * longest[:end]
        start[end] = int(cost.argmin())
        best[end] = cost[start[end]]
    runs, end = [], len(order)
    while end > 0:
        runs.append(order[start[end] : end])
        end = int(start[end])
    return runs[::-1]


# Batches per length-sorted group (see LengthGroupedBatches); when grouping is used is a recipe decision.
GROUP_BATCHES = 8

# Set by the SIGTERM/SIGINT handler; checked before every batch so an interrupt cannot be lost.
STOP = threading.Event()


def load_state(path: Path) -> Any:
    """A checkpoint's optimizer or scheduler state: plain tensors and numbers only (a pickle that would run
    code is refused), mapped onto this machine's device so a GPU run resumes on a CPU and back."""
    import pickle

    import torch

    from scripts.common.runtime import device

    try:
        return torch.load(path, weights_only=True, map_location=device())
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as exc:
        raise UserError(
            f"{path} is not a plain tensor checkpoint file (refused to unpickle it: "
            f"{str(exc).splitlines()[0][:120]}); delete that run folder and train again"
        ) from exc


@contextmanager
def restored_optimizer(checkpoint: Path) -> Iterator[None]:
    """Simple Transformers resumes weights from a checkpoint but restarts the optimizer and the LR
    schedule; load both from the checkpoint when the scheduler is built, so a resumed run continues
    exactly where it stopped."""
    from simpletransformers.classification import classification_model as st_module

    original = st_module.get_linear_schedule_with_warmup

    def restoring(optimizer, *args, **kwargs):
        scheduler = original(optimizer, *args, **kwargs)
        optimizer.load_state_dict(load_state(checkpoint / "optimizer.pt"))
        scheduler.load_state_dict(load_state(checkpoint / "scheduler.pt"))
        return scheduler

    st_module.get_linear_schedule_with_warmup = restoring
    try:
        yield
    finally:
        st_module.get_linear_schedule_with_warmup = original


@contextmanager
def fused_adamw() -> Iterator[None]:
    """Simple Transformers builds torch's AdamW with its default for-loop implementation; on this
    22.7M-parameter model its per-tensor element-wise updates took a large share of each CPU step
    (bench/profile_train.py). The fused kernel does the same update in one pass per tensor."""
    import torch
    from simpletransformers.classification import classification_model as st_module

    original = st_module.AdamW
    st_module.AdamW = functools.partial(torch.optim.AdamW, fused=True)
    try:
        yield
    finally:
        st_module.AdamW = original


@contextmanager
def tracked_grad_scaler(owner: Any, resume_dir: Path | None) -> Iterator[None]:
    """Simple Transformers makes its fp16 GradScaler inside train() and never saves it: keep a handle on
    it (saved with each checkpoint as JSON) and give it back its state on resume."""
    from torch.cuda import amp

    original = amp.GradScaler

    def making(*args, **kwargs):
        scaler = original(*args, **kwargs)
        state = resume_dir / SCALER_STATE if resume_dir else None
        if state is not None and state.exists():
            scaler.load_state_dict(json.loads(state.read_text()))
        owner.scaler = scaler
        return scaler

    amp.GradScaler = making
    try:
        yield
    finally:
        amp.GradScaler = original


def renumbered_checkpoint(output_dir: str | None, start_epoch: int) -> str | None:
    """Simple Transformers numbers a resumed run's epochs from 1 again (checkpoint-<step>-epoch-1 for the
    run's epoch start_epoch + 1), which would make the best-epoch lookup take the wrong checkpoint: write
    each epoch checkpoint under its real epoch number (the empty folder it made first is removed)."""
    import re

    found = re.fullmatch(r"(.*checkpoint-\d+-epoch-)(\d+)", str(output_dir or ""))
    if not found or not start_epoch:
        return output_dir
    stated = Path(str(output_dir))
    if stated.is_dir() and not any(stated.iterdir()):
        stated.rmdir()
    return f"{found.group(1)}{int(found.group(2)) + start_epoch}"


def _float_outputs(outputs: tuple) -> tuple:
    """bf16 logits cannot become numpy arrays: hand Simple Transformers fp32 ones."""
    loss, *rest = outputs
    return (
        loss,
        *[o.float() if hasattr(o, "is_floating_point") and o.is_floating_point() else o for o in rest],
    )


@functools.cache
def model_classes() -> dict[str, type]:
    """Subclasses of the two Simple Transformers models with the fast paths (imported on first use)."""
    import torch
    from simpletransformers.classification import ClassificationModel, MultiLabelClassificationModel
    from torch.utils.data import DataLoader

    class FastPaths:
        start_epoch = 0
        group_batches = 1  # 1: random batches (still trimmed); GROUP_BATCHES: length-grouped
        resume_dir: Path | None = None
        precision = "fp32"
        scaler = None
        checkpoint_dir: Path | None = None

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
        # one more pass in token positions to start from; None: off. While training, pass_timer refits it
        # from the steps' times (pass_cost.py).
        pass_cost: float | None = None
        pass_timer: PassCost | None = None
        fit_pass_cost = True  # False: keep pass_cost as it is (bench variant C0)

        def _calculate_loss(self, model, inputs, loss_fct, num_labels, args):
            training = model is self.model and self.model.training  # not an nn.DataParallel copy
            step = self.ddp is not None and training
            split = self.pass_cost is not None and training and not step
            forward = self._sub_batched_loss if split else self._forward_loss
            with bf16_autocast(self.precision):  # a training step goes through DDP, evaluation does not
                loss, *rest = _float_outputs(
                    forward(self.ddp if step else model, inputs, loss_fct, num_labels, args)
                )
            if step and self.batches is not None:
                loss = loss * self.batches.share  # DDP averages the ranks' losses: weigh uneven shards
            return (loss, *rest)

        def _forward_loss(self, model, inputs, loss_fct, num_labels, args):
            return super()._calculate_loss(model, inputs, loss_fct, num_labels, args)

        def _loss(self, logits, labels, loss_fct, num_labels):
            """The batch's loss from its logits, as Simple Transformers computes it: its class-weighted loss,
            or the model's own cross-entropy (the mean over the batch's rows)."""
            return (loss_fct or torch.nn.CrossEntropyLoss())(logits.view(-1, num_labels), labels.view(-1))

        def _sub_batched_loss(self, model, inputs, loss_fct, num_labels, args):
            """One training batch as runs of similar length, each padded to its own longest row, with the
            loss computed once over all their logits in the batch's order: the same loss and gradient as
            the whole batch's (up to float rounding), one optimizer step, less padding."""
            mask = inputs.get("attention_mask")
            if mask is None or mask.dim() != 2 or num_labels < 2 or self.tokenizer.padding_side != "right":
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
            return self._loss(logits, inputs["labels"], loss_fct, num_labels), logits

        def set_class_weight(self, weight: list[float] | None) -> None:
            """Weighted cross-entropy for every architecture (Simple Transformers refuses some)."""
            if weight:
                self.loss_fct = torch.nn.CrossEntropyLoss(
                    weight=torch.tensor(weight, dtype=torch.float32, device=self.device)
                )

        multi_label = False

        def load_and_cache_examples(self, examples, evaluate=False, *args, **kwargs):
            """Training rows as compact token ids, padded per batch (compact_tokens.py); evaluation keeps
            Simple Transformers' own dataset."""
            if evaluate or not isinstance(examples, tuple) or len(examples) != 2:
                return super().load_and_cache_examples(examples, evaluate, *args, **kwargs)
            texts, labels = examples
            return CompactTokens(texts, labels, self.tokenizer, self.args.max_seq_length, self.multi_label)

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
                    classes=batch_classes(dataset.labels) if self.keep_class_mix and lengths_known else None,
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
            with fused_adamw(), resuming, scaler, self.curves(), self.timed_passes():
                return super().train(train_dataloader, output_dir, *args, **kwargs)

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

        def save_model(self, output_dir=None, optimizer=None, scheduler=None, model=None, results=None):
            if not self.world.main:
                return  # rank 0 writes every checkpoint
            output_dir = renumbered_checkpoint(output_dir, self.start_epoch)
            super().save_model(output_dir, optimizer, scheduler, model=model, results=results)
            if model is not None and output_dir:
                self.checkpoint_dir = Path(output_dir)
                if self.scaler is not None and self.scaler.is_enabled():
                    (self.checkpoint_dir / SCALER_STATE).write_text(json.dumps(self.scaler.state_dict()))

        epoch_callback = None
        epochs_evaluated = 0
        writer = None

        def eval_model(self, *args, **kwargs):
            result, outputs, wrong = super().eval_model(*args, **kwargs)
            if self.checkpoint_dir is not None:  # during training: the epoch just saved was evaluated
                np.save(
                    self.checkpoint_dir / VALIDATION_OUTPUTS,
                    np.asarray(outputs, dtype=np.float32),
                    allow_pickle=False,
                )
                self.epochs_evaluated += 1
                if self.writer is not None:
                    epoch = self.start_epoch + self.epochs_evaluated
                    for key, value in result.items():
                        if isinstance(value, (int, float)):
                            self.writer.add_scalar(f"validation/{key}", float(value), epoch)
                if self.epoch_callback is not None:
                    self.epoch_callback(self.start_epoch + self.epochs_evaluated, result)
            return result, outputs, wrong

    class QuickClassificationModel(FastPaths, ClassificationModel):
        pass

    class QuickMultiLabelModel(FastPaths, MultiLabelClassificationModel):
        """Simple Transformers' multi-label loop over transformers' AutoModelForSequenceClassification
        (problem_type multi_label_classification), with the pos_weight'ed BCE loss computed here. What
        is trained is exactly what a plain transformers load gives back, for every architecture."""

        multi_label = True

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
            self.loss_fct = torch.nn.BCEWithLogitsLoss(
                pos_weight=torch.tensor(pos_weight, dtype=torch.float32, device=self.device)
                if pos_weight
                else None
            )
            self.results, self.weight, self.global_attention_fn = {}, None, None
            self.args.model_name, self.args.model_type = model_name, model_type

        def _forward_loss(self, model, inputs, loss_fct, num_labels, args):
            logits = model(**model_features(inputs)).logits
            return self._loss(logits, inputs["labels"], loss_fct, num_labels), logits

        def _loss(self, logits, labels, loss_fct, num_labels):
            return self.loss_fct(logits.float(), labels.float())

    return {"single": QuickClassificationModel, "multi": QuickMultiLabelModel}
