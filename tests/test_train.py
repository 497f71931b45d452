"""End to end through the entry point a user runs (python -m scripts.train), on the tiny model."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scripts.data.dataset import load_split
from scripts.model.inference import load_predictor
from tests.conftest import make_frame, make_multilabel_frame
from tests.helpers import (
    calibrated_softmax,
    simpletransformers_predict,
    tiny_args,
    train_run,
    write_binary_csv,
)

run_train = train_run


@pytest.fixture(scope="module")
def binary_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("d") / "sms.csv"
    make_frame({"ham": 300, "spam": 100}).rename(columns={"text": "message", "label": "category"}).to_csv(
        path, index=False
    )
    return path


def test_binary_run_folder_is_complete(binary_csv, fast_args):
    run = run_train(binary_csv, fast_args)
    for name in (
        "run.json",
        "config.json",
        "history.csv",
        "training_curve.png",
        "splits/train.csv",
        "splits/validation.csv",
        "splits/test.csv",
        "model/model.safetensors",
        "model/config.json",
        "model/quickfit.json",
        "model/tokenizer.json",
    ):
        assert (run / name).exists(), name
    assert not (run / "checkpoints").exists() and not list(run.glob("model/*.bin"))
    config = json.loads((run / "model/config.json").read_text())
    assert config["id2label"] == {"0": "ham", "1": "spam"}
    record = json.loads((run / "run.json").read_text())
    assert record["task"] == "binary" and record["positive_label"] == "spam"
    assert record["balance"]["method"] == "class_weight"
    assert (
        record["dataset"]["report"]
        if "report" in record["dataset"]
        else record["dataset"]["text_columns"] == ["message"]
    )
    resolved = json.loads((run / "config.json").read_text())["flat"]
    assert resolved["num_train_epochs"] == 3 and resolved["learning_rate"] == 0.002
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3] and "f1_positive" in history
    # the tiny model learns the keyword task: validation spam-F1 clearly above a constant predictor
    assert record["validation_best"] > 0.6


def test_multiclass_string_labels(fast_args, tmp_path):
    path = tmp_path / "topics.csv"
    make_frame({"sport": 150, "money": 120, "food": 60}).rename(columns={"label": "topic"}).to_csv(
        path, index=False
    )
    run = run_train(path, fast_args)
    record = json.loads((run / "run.json").read_text())
    assert record["task"] == "multiclass" and record["labels"] == ["food", "money", "sport"]
    predictor = load_predictor(run / "model", threads=1)
    test = load_split(run / "splits/test.csv", "multiclass")
    predicted = predictor.decide(predictor.predict_proba(test["text"].tolist()))
    assert set(predicted) <= {"food", "money", "sport"}
    assert np.mean(np.array(predicted) == test["labels"].to_numpy()) > 0.6


@pytest.mark.parametrize("fmt", ["delimited", "listlike", "onehot"])
def test_multilabel_formats_train(fast_args, tmp_path, fmt):
    frame = make_multilabel_frame(300)
    path = tmp_path / "ml.csv"
    extra = []
    if fmt == "delimited":
        frame.assign(labels=frame["labels"].map("|".join)).to_csv(path, index=False)
        extra = ["label_delimiter=|"]
    elif fmt == "listlike":
        frame.assign(labels=frame["labels"].map(str)).to_csv(path, index=False)
    else:
        onehot = pd.DataFrame({"comment_text": frame["text"]})
        for name in ["food", "money", "sport"]:
            onehot[name] = frame["labels"].map(lambda v, n=name: int(n in v))
        onehot.to_csv(path, index=False)
        extra = ["label_column=['food','money','sport']"]
    run = run_train(path, fast_args + extra)
    record = json.loads((run / "run.json").read_text())
    assert record["task"] == "multilabel" and record["labels"] == ["food", "money", "sport"]
    assert record["balance"]["method"] == "pos_weight"
    meta = json.loads((run / "model/quickfit.json").read_text())
    assert len(meta["thresholds"]) == 3 and meta["thresholds_tuned_on"] == "validation"
    config = json.loads((run / "model/config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    # the base vocabulary is uncased: the trained model's tokenizer must lower-case too, as the base
    # one does (Simple Transformers' multi-label default turned capitalised words into [UNK])
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    assert tokenizer("Cash Prize WIN")["input_ids"] == tokenizer("cash prize win")["input_ids"]
    assert tokenizer.unk_token_id not in tokenizer("Cash Prize WIN")["input_ids"]


def test_same_seed_gives_identical_predictions(binary_csv, fast_args, tmp_path):
    first = run_train(binary_csv, fast_args + ["run_name=a", "num_train_epochs=1"])
    second = run_train(binary_csv, fast_args + ["run_name=b", "num_train_epochs=1"])
    other = run_train(binary_csv, fast_args + ["run_name=c", "num_train_epochs=1", "manual_seed=3"])
    texts = load_split(first / "splits/test.csv", "binary")["text"].tolist()
    probs = [load_predictor(r / "model", threads=1).predict_proba(texts) for r in (first, second, other)]
    assert np.array_equal(probs[0], probs[1])
    assert not np.allclose(probs[0], probs[2])


def test_model_loads_in_simpletransformers(binary_csv, fast_args):
    run = run_train(binary_csv, fast_args + ["num_train_epochs=1"])
    texts = load_split(run / "splits/test.csv", "binary")["text"].tolist()[:20]
    (preds, raw), _ = simpletransformers_predict(run / "model", texts, 32)
    ours = load_predictor(run / "model", threads=1).predict_proba(texts)
    assert np.array_equal(preds, ours.argmax(1))
    # Simple Transformers' logits at the temperature the run stored
    softmax = calibrated_softmax(raw, run / "model")
    assert np.allclose(softmax, ours, atol=1e-5)


@pytest.mark.slow
def test_training_works_beside_a_torchvision_without_video_reader(tiny_model, tmp_path):
    """datasets 3.6 formats Simple Transformers' batches through torchvision.io.VideoReader whenever
    torchvision is installed; recent torchvision (Colab, Kaggle, the GPU image) has none. Here torchvision
    is not installed, so datasets is told it is and handed one without VideoReader, as there."""
    import subprocess
    import sys

    csv = write_binary_csv(tmp_path / "b.csv")
    args = tiny_args(tiny_model, tmp_path / "o")
    code = (
        "import sys, types, datasets.config, simpletransformers.classification\n"
        "datasets.config.TORCHVISION_AVAILABLE = True\n"
        "vision = types.ModuleType('torchvision')\n"
        "vision.io = types.ModuleType('torchvision.io')\n"
        "sys.modules.update({'torchvision': vision, 'torchvision.io': vision.io})\n"
        "from scripts import train\n"
        f"sys.exit(train.main(['--data', {str(csv)!r}, '--set', *{args!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "o" / "latest" / "model" / "model.safetensors").exists()
