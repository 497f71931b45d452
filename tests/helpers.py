"""Helpers shared by the end-to-end tests: train the tiny model through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scripts import train
from tests.conftest import make_frame, make_multilabel_frame


def train_run(csv: Path, args: list[str], *extra: str) -> Path:
    """python -m scripts.train --data CSV --set ARGS..., in-process; returns outputs/latest resolved."""
    code = train.main(["--data", str(csv), "--set", *args, *extra])
    assert code == 0
    outputs = next(a.split("=", 1)[1] for a in args if a.startswith("outputs_dir="))
    return (Path(outputs) / "latest").resolve()


def tiny_args(model: Path, outputs: Path) -> list[str]:
    return [
        f"model_name={model}",
        f"outputs_dir={outputs}",
        "num_train_epochs=3",
        "learning_rate=0.002",
        "train_batch_size=16",
        "threads=1",
        "use_early_stopping=False",
        # the tiny data sets here carve validation splits of a few rows, where auto would cross-validate
        # (five trainings each): the k-fold path has its own tests (test_kfold.py, test_curve.py)
        "model_selection=validation",
    ]


def write_binary_csv(path: Path, ham: int = 300, spam: int = 100) -> Path:
    make_frame({"ham": ham, "spam": spam}).to_csv(path, index=False)
    return path


def write_multilabel_csv(path: Path, n: int = 300) -> Path:
    frame = make_multilabel_frame(n)
    frame.assign(labels=frame["labels"].map(",".join)).to_csv(path, index=False)
    return path


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False)


def calibrated_softmax(raw, model_dir: Path):
    """softmax(logits / T) with the temperature the run stored (quickfit.json): what quickfit predicts."""
    import json

    import numpy as np

    t = json.loads((Path(model_dir) / "quickfit.json").read_text()).get("temperature") or 1.0
    scaled = np.asarray(raw, dtype=np.float64) / t
    scaled = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return scaled / scaled.sum(axis=1, keepdims=True)


def simpletransformers_model(model_dir: Path, **args):
    """The saved folder loaded by Simple Transformers itself, as a user of the pushed model would (tests and
    the prediction benchmark)."""
    from simpletransformers.classification import ClassificationModel

    from scripts.training.fit import OFFLINE_SAFE

    return ClassificationModel(
        "bert", str(model_dir), use_cuda=False, args={**OFFLINE_SAFE, "silent": True, **args}
    )


def simpletransformers_predict(model_dir: Path, texts: list[str], max_seq_length: int):
    """The saved folder loaded and run by Simple Transformers itself: (predicted ids, raw logits)."""
    model = simpletransformers_model(model_dir, max_seq_length=max_seq_length)
    return model.predict(texts), model.config.id2label
