"""Baseline B/B2 for the benchmark: a plain transformers Trainer with dynamic padding
(DataCollatorWithPadding), optionally with group_by_length=True (Trainer's best built-in setting)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def train_trainer(
    model_path: str,
    texts: list[str],
    labels: list[int],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    group_by_length: bool,
    work: Path,
) -> dict:
    from transformers import DataCollatorWithPadding, Trainer

    tokenizer, model, rows = trainer_inputs(model_path, texts, labels, seed)
    args = training_arguments(work, batch_size, lr, epochs, seed, group_by_length)
    trainer = Trainer(
        model=model, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(tokenizer)
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    model.save_pretrained(work / "model")
    tokenizer.save_pretrained(work / "model")
    return {"train_seconds": seconds, "model_dir": str(work / "model")}


def trainer_inputs(
    model_path: str, texts: list[str], labels: list[int], seed: int, max_length: int = 128, **model_kwargs
) -> tuple:
    """The tokenizer, a fresh 2-label model and the tokenised rows (dynamic padding later), seeded."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=2, dtype=torch.float32, **model_kwargs
    )
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    rows = [{**{k: encoded[k][i] for k in encoded}, "labels": label} for i, label in enumerate(labels)]
    return tokenizer, model, rows


def training_arguments(
    work: Path, batch_size: int, lr: float, epochs: int, seed: int, group_by_length: bool = False
):
    """The Trainer's settings in every benchmark: warm-up 0.06 and weight decay 0.01, as quickfit's."""
    import torch
    from transformers import TrainingArguments

    # transformers 5: group_by_length=True became train_sampling_strategy, warmup_steps < 1 is a ratio
    return TrainingArguments(
        output_dir=str(work),
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        num_train_epochs=epochs,
        seed=seed,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        warmup_steps=0.06,
        weight_decay=0.01,
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
    )


def predict_labels(model_dir: str, texts: list[str], batch_size: int = 64) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32).eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[i : i + batch_size], truncation=True, max_length=128, padding=True, return_tensors="pt"
            )
            out.append(model(**batch).logits.argmax(-1).numpy())
    return np.concatenate(out)
