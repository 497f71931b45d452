"""Every supported architecture, binary and multi-label: train, evaluate, predict, push and verify
(with long texts cut by truncation=head+tail).

Tiny random-weight models of each architecture are built at test time (tests/tiny_models.py). The
key property: what `make predict` gives for the validation split equals the probabilities Simple
Transformers computed on it during training, so the saved head is the trained head.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scripts import evaluate, predict, push
from scripts.common import runs
from scripts.data.dataset import load_split
from scripts.model.onnx_export import export_run
from scripts.training import fit
from tests.conftest import make_frame
from tests.helpers import tiny_args, train_run, write_binary_csv, write_multilabel_csv
from tests.hub_server import start_hub
from tests.tiny_models import ARCHITECTURES, build


@pytest.fixture(scope="module")
def hub_endpoint():
    server, state, endpoint = start_hub()
    yield state, endpoint
    server.shutdown()


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("arch_data")
    # 2:1 imbalance, so `balance=auto` picks class weights (which Simple Transformers refuses for some types)
    make_frame({"sport": 90, "money": 80, "food": 70}).to_csv(root / "c.csv", index=False)
    return {
        "binary": write_binary_csv(root / "b.csv", ham=160, spam=80),
        "multiclass": root / "c.csv",
        "multilabel": write_multilabel_csv(root / "m.csv", 240),
    }


def at_temperature(probs: np.ndarray, task: str, temperature) -> np.ndarray:
    """softmax(z / T) from softmax(z), or sigmoid(z / T) from sigmoid(z): the same logits, rescaled."""
    from scripts.evaluation.calibration import activate

    if task == "multilabel":
        logits = np.log(np.clip(probs, 1e-12, 1)) - np.log(np.clip(1 - probs, 1e-12, 1))
    else:
        logits = np.log(np.clip(probs, 1e-300, 1))
    return activate(logits, task, temperature)


def train_capturing(csv, args, monkeypatch) -> tuple:
    """Train through the entry point; keep the training-time validation probabilities of the best epoch."""
    captured = {}
    original = fit.train

    def spying(*a, **k):
        result = original(*a, **k)
        captured["probs"] = result.validation_probs
        return result

    monkeypatch.setattr(fit, "train", spying)
    run = train_run(csv, args)
    return run, captured["probs"]


# The whole matrix runs in make test; make test-fast keeps one corner of it (BERT, binary).
MATRIX = [
    pytest.param(arch, task, marks=() if (arch, task) == ("bert", "binary") else pytest.mark.slow)
    for arch in ARCHITECTURES
    for task in ("binary", "multiclass", "multilabel")
]


@pytest.mark.parametrize(("arch", "task"), MATRIX)
def test_architecture_trains_predicts_and_pushes(
    arch, task, data_files, hub_endpoint, tmp_path, tmp_path_factory, monkeypatch
):
    base = build(arch, tmp_path_factory.mktemp("base") / arch)
    # max_seq_length 10 cuts a quarter to a half of these texts: truncation=auto keeps their head and tail, so
    # everything below also checks that training, validation, predict and push cut them the same way
    args = tiny_args(base, tmp_path / "outputs") + ["num_train_epochs=2", "threads=1", "max_seq_length=10"]
    args += ["truncation=auto", "long_texts=truncate"]  # windows on every tokenizer: test_long_texts.py
    run, training_probs = train_capturing(data_files[task], args, monkeypatch)

    record = runs.read_record(run)
    assert record["model"]["model_type"] == arch and record["task"] == task
    assert record["truncation"] == "head+tail" and record["token_lengths"]["truncated_share_pct"] > 5
    assert json.loads((run / "model" / "quickfit.json").read_text())["truncation"] == "head+tail"
    assert record["precision"] == "fp32"
    if task == "binary":
        assert record["balance"]["method"] == "class_weight"

    # make predict on the validation texts == the validation probabilities computed while training
    validation = load_split(run / "splits" / "validation.csv", task)
    pd.DataFrame({"text": validation["text"]}).to_csv(tmp_path / "val.csv", index=False)
    result = predict.predict_file(run, tmp_path / "val.csv", tmp_path / "val.pred.csv", threads=1)
    out = pd.read_csv(result["output"], keep_default_na=False)
    predicted = out[[f"prob_{name}" for name in record["labels"]]].to_numpy()
    assert predicted.shape == training_probs.shape
    # the training-time probabilities at the temperature fitted afterwards (stored in quickfit.json)
    temperature = json.loads((run / "model" / "quickfit.json").read_text()).get("temperature")
    np.testing.assert_allclose(predicted, at_temperature(training_probs, task, temperature), atol=1e-5)

    report = evaluate.evaluate(run, threads=1)
    assert report["results"]["transformer"]["f1_macro"] is not None

    # make export: ONNX within 1e-4 of PyTorch with the same decisions (checked at export), then make predict
    # on ONNX Runtime (BACKEND=auto picks it) gives the same file as PyTorch did
    parity = export_run(run, with_int8=True, threads=1)
    assert (
        parity["fp32"]["identical_decisions"] == 1.0 and parity["fp32"]["max_probability_difference"] <= 1e-4
    )
    assert (run / "onnx" / "model_quantized.onnx").exists() == parity["int8"]["kept"]
    onnx_out = predict.predict_file(run, tmp_path / "val.csv", tmp_path / "val.onnx.csv", threads=1)
    onnx_frame = pd.read_csv(onnx_out["output"], keep_default_na=False)
    assert onnx_frame["predicted"].tolist() == out["predicted"].tolist()
    np.testing.assert_allclose(
        onnx_frame[out.columns[1:]].drop(columns="predicted").to_numpy(), predicted, atol=1e-4
    )

    state, endpoint = hub_endpoint
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_TOKEN", state.write_token)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    pushed = push.push(run, f"tester/{arch}-{task}", verify_rows=16)
    assert pushed["verify"]["identical_labels"] == pushed["verify"]["rows"] > 0
    assert pushed["verify"]["onnx"]["identical_labels"] == pushed["verify"]["rows"]  # the Hub's ONNX copy
    assert "onnx/model.onnx" in state.repos[f"tester/{arch}-{task}"].files


def test_a_folder_with_a_missing_head_is_refused_at_load(tmp_path):
    """A base model without the trained head would load with a fresh random head at every call."""
    import json

    from scripts.common.errors import UserError
    from scripts.model.inference import load_predictor

    folder = build("electra", tmp_path / "headless")
    (folder / "quickfit.json").write_text(
        json.dumps({"task": "binary", "labels": ["a", "b"], "max_seq_length": 32})
    )
    with pytest.raises(UserError, match="weights missing or mismatched"):
        load_predictor(folder, threads=1)


def test_saved_model_that_drifts_from_training_is_an_error(data_files, tiny_model, tmp_path, monkeypatch):
    """The check at the end of training compares the reloaded model with the training-time probabilities."""
    from scripts import train
    from scripts.common.errors import UserError

    original = fit.train

    def drifting(*a, **k):
        result = original(*a, **k)
        result.validation_probs = np.clip(result.validation_probs + 0.01, 0, 1)  # a head 0.01 off
        return result

    monkeypatch.setattr(fit, "train", drifting)
    out = tmp_path / "outputs"
    with pytest.raises(UserError, match="does not reproduce its training-time validation"):
        train.train_run(
            train.settings.resolve(
                {
                    "dataset": str(data_files["binary"]),
                    "model_name": str(tiny_model),
                    "outputs_dir": str(out),
                    "num_train_epochs": 1,
                    "threads": 1,
                }
            )
        )
    assert not (out / "latest").exists() and not any((out / ".incomplete").iterdir())


@pytest.mark.parametrize(
    "spelling,expected",
    [
        ("deberta-v2", "deberta-v2"),
        ("debertav2", "deberta-v2"),
        ("DeBERTa-v3", "deberta-v2"),
        ("xlmroberta", "xlm-roberta"),
        ("xlm_roberta", "xlm-roberta"),
        ("ModernBERT", "modernbert"),
        ("auto", "auto"),
    ],
)
def test_both_spellings_of_a_model_type(spelling, expected):
    from scripts.common import settings

    assert settings.resolve({"model_type": spelling})["model_type"] == expected


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_compact_store_tokenises_as_the_tokenizer_does(arch, tmp_path):
    """The compact store calls each fast tokenizer's Rust backend directly: its ids must be the ids the
    tokenizer itself gives, for long, empty and non-ASCII texts, truncating at either side."""
    from transformers import AutoTokenizer

    from scripts.training.st.compact_tokens import CompactTokens
    from tests.tiny_models import corpus

    tokenizer = AutoTokenizer.from_pretrained(build(arch, tmp_path / arch))
    texts = corpus(200) + ["", " ", "Ünïcödé ☃ 😀 text " * 30, "x\ty\nz", "A" * 500]
    for side in ("right", "left"):
        tokenizer.truncation_side = side
        expected = tokenizer(texts, truncation=True, max_length=16)["input_ids"]
        store = CompactTokens(texts, [0] * len(texts), tokenizer, max_seq_length=16)
        assert [store.row(i).tolist() for i in range(len(texts))] == expected
