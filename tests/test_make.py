"""The Makefile targets as a user types them (the venv already exists, so no install runs)."""

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import make_multilabel_frame

pytestmark = (
    pytest.mark.slow
)  # subprocesses that import Simple Transformers: make test runs it, make test-fast not

PROJECT = Path(__file__).resolve().parent.parent


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=PROJECT, capture_output=True, text=True, timeout=600
    )


def test_make_train_eval_predict_with_onehot_labels(tiny_model, tmp_path):
    frame = make_multilabel_frame(240)
    onehot = pd.DataFrame({"id": range(len(frame)), "comment_text": frame["text"]})
    for name in ["food", "money", "sport"]:
        onehot[name] = frame["labels"].map(lambda v, n=name: int(n in v))
    onehot.to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "outputs"
    sets = (
        f"model_name={tiny_model} outputs_dir={out} num_train_epochs=3 learning_rate=0.002 threads=1 "
        "label_column=['food','money','sport']"
    )
    result = make("train", f"DATA={tmp_path / 'train.csv'}", f"SET={sets}")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "task multilabel" in result.stdout and "recipe: learning_rate" not in result.stdout
    run = (out / "latest").resolve()
    result = make("eval", f"RUN={run}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "f1_macro" in result.stdout and (run / "eval" / "metrics.json").exists()
    onehot[["id", "comment_text"]].head(30).to_csv(tmp_path / "new.csv", index=False)
    result = make("predict", f"INPUT={tmp_path / 'new.csv'}", f"RUN={run}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(pd.read_csv(tmp_path / "new.predictions.csv")) == 30


def test_make_reports_user_errors_with_exit_2(tmp_path):
    result = make("train", "SET=num_epochs=3")
    assert result.returncode != 0
    assert "error: unknown config key 'num_epochs': did you mean 'num_train_epochs'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_variables_arrive_as_data_never_as_shell(tmp_path):
    """`;`, `$(shell ...)`, backticks and `$(...)` in SET are text: nothing runs, one clean error line."""
    for payload in (
        f"num_train_epochs=1;touch {tmp_path}/a",
        f"x=1 $(shell touch {tmp_path}/b)",
        f"`touch {tmp_path}/c`",
        f"x=$$(touch {tmp_path}/d)",
    ):
        result = make("train", f"SET={payload}")
        assert result.returncode != 0
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert not list(tmp_path.iterdir())


def test_make_takes_paths_with_spaces_quotes_and_parentheses(tiny_model, tmp_path):
    from tests.helpers import write_binary_csv

    folder = tmp_path / "my data (v2); 'final'"
    folder.mkdir()
    csv = write_binary_csv(folder / "spam & ham.csv", ham=60, spam=30)
    out = tmp_path / "out puts"
    sets = f'model_name={tiny_model} "outputs_dir={out}" num_train_epochs=1 threads=1'
    result = make("train", f"DATA={csv}", f"SET={sets}")
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    run = (out / "latest").resolve()
    result = make("predict", f"INPUT={csv}", f"RUN={run}", f"OUTPUT={folder / 'pred (1).csv'}")
    assert result.returncode == 0, result.stderr[-1500:]
    assert len(pd.read_csv(folder / "pred (1).csv")) == 90


def test_an_unclosed_quote_in_set_is_one_line():
    result = make("train", "SET=run_name='it")
    assert result.returncode != 0 and "error: SET=" in result.stderr and "unclosed quote" in result.stderr
