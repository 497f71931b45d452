"""Hostile inputs whose right answer is a correct result, not an error: missing-value labels, mixed encodings,
an over-long max_seq_length, big or odd prediction inputs, a symlink in a model folder, local paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from scripts import predict, push
from scripts.common import runs, settings
from scripts.common.errors import UserError, run_cli
from scripts.data import blocks, sources
from scripts.data.dataset import load_dataset
from tests.conftest import make_frame
from tests.helpers import tiny_args, train_run, write_binary_csv
from tests.hub_server import start_hub

PROJECT = Path(__file__).resolve().parent.parent


def load(path: Path, **overrides):
    cfg = settings.resolve({"dataset": str(path), **overrides})
    return load_dataset(sources.get_source(cfg["dataset"]), cfg)


def test_nan_like_label_cells_are_missing_labels_not_a_class(tmp_path):
    frame = make_frame({"ham": 40, "spam": 20})
    frame.loc[:11, "label"] = [
        "NaN",
        "nan",
        "None",
        "null",
        "inf",
        "-inf",
        "N/A",
        "",
        "NA",
        "<NA>",
        " nan ",
        "Infinity",
    ]
    frame.to_csv(tmp_path / "d.csv", index=False)
    dataset = load(tmp_path / "d.csv")
    assert dataset.task == "binary" and dataset.label_names == ["ham", "spam"]
    assert dataset.report["cleaning"]["all"]["dropped_missing_label"] == 12


def test_numeric_labels_with_nan_stay_binary(tmp_path):
    frame = make_frame({"ham": 40, "spam": 20})
    frame["label"] = frame["label"].map({"ham": "0", "spam": "1"})
    frame.loc[:4, "label"] = "nan"
    frame.to_csv(tmp_path / "d.csv", index=False)
    dataset = load(tmp_path / "d.csv")
    assert (
        dataset.label_names == ["0", "1"] and dataset.report["cleaning"]["all"]["dropped_missing_label"] == 5
    )


def test_multilabel_cells_drop_missing_items(tmp_path):
    pd.DataFrame(
        {"text": [f"words {i}" for i in range(30)], "labels": ["a,b", "a,nan", "None", "b"] * 7 + ["a"] * 2}
    ).to_csv(tmp_path / "m.csv", index=False)
    dataset = load(tmp_path / "m.csv")
    assert dataset.label_names == ["a", "b"]
    assert dataset.report["cleaning"]["all"]["dropped_missing_label"] == 7


def test_half_utf8_half_cp1252_is_decoded_line_by_line(tmp_path):
    rows = [f"caf\u00e9 cr\u00e8me number {i},{'a' if i % 2 else 'b'}" for i in range(40)]
    raw = ("text,label\n" + "\n".join(rows[:20]) + "\n").encode("utf-8") + (
        "\n".join(rows[20:]) + "\n"
    ).encode("cp1252")
    (tmp_path / "mixed.csv").write_bytes(raw)
    dataset = load(tmp_path / "mixed.csv")
    texts = dataset.frames["all"]["text"].tolist()
    assert all("caf\u00e9 cr\u00e8me" in t for t in texts) and not any(
        "\u00c3" in t for t in texts
    )  # no mojibake
    assert dataset.report["detected"]["encoding"] == "utf-8 with 20 cp1252 lines"


def test_max_seq_length_above_the_model_positions_is_capped(tiny_model, tmp_path, capsys):
    run = train_run(
        write_binary_csv(tmp_path / "b.csv", 60, 30),
        tiny_args(tiny_model, tmp_path / "out"),
        "num_train_epochs=1",
        "max_seq_length=4096",
    )
    assert runs.read_record(run)["max_seq_length"] == 128  # the tiny BERT has 128 positions
    assert "above the model's 128 positions: 128 is used" in capsys.readouterr().out


def test_unwritable_outputs_dir_is_one_line_before_anything_runs(tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    code = run_cli(
        __import__("scripts.train", fromlist=["main"]).main,
        [
            "--data",
            str(write_binary_csv(tmp_path / "b.csv", 60, 30)),
            "--set",
            f"outputs_dir={tmp_path / 'a_file' / 'outputs'}",
        ],
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "cannot be written" in err


def test_predict_makes_a_missing_output_folder(finished_run, tmp_path):
    make_frame({"ham": 5, "spam": 5}).to_csv(tmp_path / "new.csv", index=False)
    result = predict.predict_file(
        finished_run, tmp_path / "new.csv", tmp_path / "a" / "b" / "out.csv", threads=1
    )
    assert len(pd.read_csv(result["output"])) == 10


def big_rows(n: int, start: int = 0) -> str:
    return "".join(
        f"words number {i} free cash prize,{'spam' if i % 3 else 'ham'}\n" for i in range(start, start + n)
    )


@pytest.mark.slow
def test_predict_streams_a_big_file_whose_encoding_changes_after_the_first_chunk(
    finished_run, tmp_path, monkeypatch
):
    monkeypatch.setattr(blocks, "SAMPLE_BYTES", 1 << 18)  # stream from 256 KB: the same path, less to predict
    head = ("text,label\n" + big_rows(12_000)).encode("utf-8")
    assert len(head) > blocks.SAMPLE_BYTES
    tail = "".join(f"caf\u00e9 cr\u00e8me {i},ham\n" for i in range(50)).encode("cp1252")
    (tmp_path / "big.csv").write_bytes(head + tail)
    result = predict.predict_file(finished_run, tmp_path / "big.csv", tmp_path / "out.csv", threads=1)
    out = pd.read_csv(result["output"], keep_default_na=False)
    assert len(out) == 12_050 and out["text"].iloc[-1] == "caf\u00e9 cr\u00e8me 49"


@pytest.mark.slow
def test_predict_reads_big_json_lines_as_json(finished_run, tmp_path, monkeypatch):
    monkeypatch.setattr(blocks, "SAMPLE_BYTES", 1 << 18)
    with open(tmp_path / "big.jsonl", "w") as handle:
        for i in range(8_000):
            handle.write(json.dumps({"text": f'words, number {i}, "free" cash', "id": i}) + "\n")
    assert (tmp_path / "big.jsonl").stat().st_size > blocks.SAMPLE_BYTES
    result = predict.predict_file(finished_run, tmp_path / "big.jsonl", tmp_path / "out.csv", threads=1)
    out = pd.read_csv(result["output"])
    assert len(out) == 8_000 and list(out["id"][:3]) == [0, 1, 2]


@pytest.mark.slow
def test_sigterm_during_predict_leaves_no_partial_file(finished_run, tmp_path):
    (tmp_path / "big.csv").write_text("text,label\n" + big_rows(400_000))
    out = tmp_path / "out.csv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.predict",
            "--run",
            str(finished_run),
            "--input",
            str(tmp_path / "big.csv"),
            "--output",
            str(out),
        ],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    partial = tmp_path / f".{out.name}.partial"
    deadline = time.time() + 120
    while not partial.exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert not partial.exists() and not out.exists()


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server, state, endpoint = start_hub()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_TOKEN", state.write_token)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    yield state
    server.shutdown()


def test_pushed_files_hold_no_path_of_this_machine(finished_run, hub, tiny_model):
    push.push(finished_run, "tester/no-paths", verify_rows=8)
    files = hub.repos["tester/no-paths"].files
    for name, content in files.items():
        for secret_path in (
            str(tiny_model),
            str(finished_run),
            str(finished_run.parent),
            os.path.expanduser("~"),
        ):
            assert secret_path.encode() not in content, (name, secret_path)
    card = files["README.md"].decode()
    assert "base_model:" not in card and "a local base model (`tiny_bert`)" in card


def test_a_symlink_in_the_model_folder_is_refused(finished_run, tmp_path, hub):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (tmp_path / "secret.txt").write_text("outside the run")
    os.symlink(tmp_path / "secret.txt", run / "model" / "vocab.txt.link")
    (run / "model" / "tokenizer_config.json").unlink()
    os.symlink(tmp_path / "secret.txt", run / "model" / "tokenizer_config.json")
    with pytest.raises(UserError, match="is a symbolic link"):
        push.push(run, "tester/links", verify_rows=8)
    assert "tester/links" not in hub.repos
