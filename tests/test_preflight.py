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
