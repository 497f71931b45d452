"""Plans that cannot train are refused before any work: one line, exit 2, nothing written."""

from scripts import train
from tests.helpers import tiny_args, write_binary_csv


def test_more_accumulation_steps_than_batches_is_refused(tiny_model, tmp_path, capsys):
    from scripts.common.errors import run_cli

    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=30)
    out = tmp_path / "out"
    args = ["--data", str(csv), "--set", *tiny_args(tiny_model, out), "gradient_accumulation_steps=50"]
    assert run_cli(train.main, args) == 2
    err = capsys.readouterr().err
    assert "gradient_accumulation_steps=50 is more than the" in err and "no optimizer step" in err
    assert "Traceback" not in err and not (out / "latest").exists()
    assert not any((out / ".incomplete").glob("*"))


def test_a_training_split_of_one_row_is_refused(tiny_model, tmp_path, capsys):
    from scripts.common.errors import run_cli
    from tests.helpers import write_multilabel_csv

    csv = write_multilabel_csv(tmp_path / "m.csv", n=120)
    out = tmp_path / "out"
    assert (
        run_cli(train.main, ["--data", str(csv), "--set", *tiny_args(tiny_model, out), "max_train_rows=1"])
        == 2
    )
    err = capsys.readouterr().err
    assert "the training split holds 1 row(s)" in err and not (out / "latest").exists()


def test_a_model_that_took_no_optimizer_step_is_never_published():
    from types import SimpleNamespace

    import pytest

    from scripts.common.errors import UserError
    from scripts.training.finalise import finalise

    with pytest.raises(UserError, match="no optimizer step ran"):
        finalise(SimpleNamespace(global_step=0, fine_tuned=True), None, None, {})


def test_multilabel_labels_without_a_training_row_are_said_and_recorded(capsys):
    import pandas as pd

    from scripts.data.dataset import Dataset
    from scripts.data.prepare import _labels_absent_from_training

    splits = {
        "train": pd.DataFrame({"text": ["a", "b"], "labels": [("joy",), ("joy", "anger")]}),
        "test": pd.DataFrame({"text": ["c"], "labels": [("grief",)]}),
    }
    dataset = Dataset(
        frames={}, label_names=["anger", "grief", "joy"], task="multilabel", positive_label=None
    )
    report = {"split": {}}
    _labels_absent_from_training(dataset, splits, report)
    assert report["split"]["labels_absent_from_training"] == ["grief"]
    assert "1 label(s) have no positive training row" in capsys.readouterr().out
