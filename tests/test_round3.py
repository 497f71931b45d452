"""Hostile inputs of the newer surfaces, one test per class: each is one line and exit code 2, or a
clean result (argparse values, ports, torchrun words, damaged or repeated runs in compare)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from scripts import app, compare, sweep
from scripts.common import runs
from scripts.common.errors import UserError, run_cli
from scripts.common.ports import check_port_free


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "usage:" not in err, err
    return err


@pytest.mark.parametrize(
    ("main", "argv", "needle"),
    [
        (sweep.main, ["--trials", "abc"], "argument --trials (TRIALS=): invalid int value: 'abc'"),
        (app.main, ["--port", "x"], "argument --port (PORT=)"),
        (compare.main, ["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_argument_errors_are_one_line_naming_the_make_variable(main, argv, needle, capsys):
    assert run_cli(main, argv) == 2
    assert needle in one_line(capsys)


@pytest.mark.parametrize("port", [70000, -1, 0])
def test_ports_out_of_range_are_one_line(port):
    with pytest.raises(UserError, match=f"PORT={port}: give a port from 1 to 65535, e.g. make app"):
        check_port_free("127.0.0.1", port)


@pytest.mark.parametrize("port", ["70000", "-1", "abc", "6006x"])
def test_tensorboard_ports_are_checked_before_it_starts(port, monkeypatch, capsys):
    from scripts import cli

    monkeypatch.setenv("QF_PORT", port)
    assert cli.main(["tensorboard"]) == 2
    assert f"PORT={port}: give a port from 1 to 65535, e.g. make tensorboard PORT=6006" in one_line(capsys)


def test_a_taken_tensorboard_port_is_one_line(monkeypatch, capsys):
    import socket

    from scripts import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("QF_PORT", str(taken.getsockname()[1]))
        assert cli.main(["tensorboard"]) == 2
    assert "choose another port, e.g. make tensorboard PORT=" in one_line(capsys)


def test_a_stray_word_in_torchrun_args_is_refused_not_run(capsys):
    pytest.importorskip("torch.distributed")
    from scripts.training import launch

    with pytest.raises(UserError, match="holds a word that is not a torchrun option \\('x.py'\\)"):
        launch.torchrun("1", "--standalone x.py", ["--data", "d.csv"])


def test_compare_leaves_out_a_damaged_run_and_counts_a_repeated_one_once(finished_run, tmp_path, capsys):
    import shutil

    out = tmp_path / "outputs"
    out.mkdir()
    good = out / "good"
    shutil.copytree(finished_run, good)
    damaged = out / "damaged"
    shutil.copytree(finished_run, damaged)
    (damaged / "run.json").write_text("{not json")
    assert [r["run"] for rows in compare.leaderboard([good, damaged]).values() for r in rows] == ["good"]
    assert "left out damaged: its records are damaged" in capsys.readouterr().out
    record = runs.read_record(good)
    (good / "run.json").write_text(json.dumps({**record, "task": None}))  # edited by hand: a KeyError inside
    assert compare.leaderboard([good]) == {}


def test_compare_without_an_outputs_folder_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runs, "outputs_dir", lambda cfg: tmp_path / "nothing")
    assert run_cli(compare.main, []) == 2
    assert "no finished runs in" in one_line(capsys)


def test_the_default_sweep_name_is_a_plain_folder_name():
    assert runs.folder_name_from("hf:dair-ai/emotion") == "emotion"
    assert runs.folder_name_from("data/my file (v2)!.csv") == "my_file_(v2)"
    assert runs.folder_name_from("data/\n.csv") == "sweep"


def test_predict_inputs_that_are_not_readable_files_are_one_line(finished_run, tmp_path, capsys):
    import os

    from scripts import predict

    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{"text": \n')
    (tmp_path / "ok.csv").write_text("text\nhello\n")
    os.mkfifo(tmp_path / "pipe.csv")  # would block forever if opened
    cases = [
        (["--input", str(tmp_path / "bad.jsonl")], "cannot be read past a damaged line"),
        (["--input", str(tmp_path)], "is not a regular file"),
        (["--input", str(tmp_path / "pipe.csv")], "is not a regular file"),
        (["--input", str(tmp_path / "ok.csv"), "--column-names", "text,text"], "names a column twice"),
    ]
    for argv, needle in cases:
        assert run_cli(predict.main, ["--run", str(finished_run), *argv]) == 2
        assert needle in one_line(capsys)
    assert not list(tmp_path.glob("*.predictions.csv")) and not list(tmp_path.glob(".*partial"))


def test_hostile_label_names_stay_inside_their_markdown_cell():
    import re

    from scripts.evaluation.report import markdown_table

    table = markdown_table(
        [["label", "F1"], ["Business | Finance", "0.9"], ["two\nlines", "1"], ["<b>x</b>", "0"]]
    )
    lines = table.splitlines()
    cells = [re.split(r"(?<!\\)\|", line) for line in lines]  # split on | that is not escaped
    assert len(lines) == 5 and all(len(row) == 4 for row in cells)  # two cells on every row
    assert "&lt;b&gt;x&lt;/b&gt;" in table and "<b>" not in table


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"encoding": "rot13"}, "is not a text encoding"),
        ({"encoding": "hex"}, "is not a text encoding"),
        ({"encoding": "klingon"}, "is not a codec Python knows"),
        ({"separator": "[,;]"}, "a separator is never a pattern"),
    ],
)
def test_codecs_and_separators_that_cannot_read_a_table_are_one_line(overrides, needle):
    from scripts.common import settings

    with pytest.raises(UserError, match=needle):
        settings.resolve(overrides)


def test_a_deeply_nested_set_file_is_one_line(tmp_path):
    from scripts.common import settings

    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "nested.json").write_text('{"learning_rate": {"a": 1}}')
    for name in ("deep.json", "nested.json"):
        with pytest.raises(UserError, match="SET=@"):
            settings.parse_overrides([f"@{tmp_path / name}"])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_tables_are_read_as_text(tmp_path, encoding):
    import pandas as pd

    from scripts.common import settings
    from scripts.data import sources
    from scripts.data.dataset import load_dataset

    path = tmp_path / "wide.csv"
    pd.DataFrame({"text": [f"row {i} café" for i in range(40)], "label": ["a", "b"] * 20}).to_csv(
        path, index=False, encoding=encoding
    )
    for given in ("auto", encoding):
        cfg = settings.resolve({"dataset": str(path), "encoding": given})
        ds = load_dataset(sources.get_source(cfg["dataset"]), cfg)
        assert len(ds.frames["all"]) == 40 and ds.frames["all"]["text"].iloc[0].endswith("café")


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda run: (run / "model" / "quickfit.json").write_text("{oops"), "quickfit.json is damaged"),
        (lambda run: (run / "model" / "quickfit.json").write_text("{}"), "quickfit.json is damaged"),
        (lambda run: (run / "history.csv").unlink(), "history.csv cannot be read"),
    ],
)
def test_damaged_run_files_are_one_line_naming_the_file(finished_run, tmp_path, damage, needle, capsys):
    import shutil

    from scripts import card, predict

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    damage(run)
    main = card.main if "history" in needle else predict.main
    args = ["--run", str(run)] + ([] if main is card.main else ["--backend", "torch", "some text"])
    assert run_cli(main, args) == 2
    assert needle in one_line(capsys)


@pytest.mark.parametrize("offline", [False, True])
def test_a_network_failure_wrapped_by_the_hub_client_is_said_as_one(offline, monkeypatch):
    """huggingface_hub 1.x wraps a refused connection (httpx2) in LocalEntryNotFoundError: that is a network
    failure, not "check the id" and not offline mode, unless HF_HUB_OFFLINE is set."""
    import socket

    import httpx2
    from huggingface_hub.errors import LocalEntryNotFoundError

    from scripts.common.hub_errors import hub_error

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        try:
            httpx2.head(f"http://127.0.0.1:{port}/owner/model/resolve/main/config.json")
        except httpx2.ConnectError as refused:
            raise LocalEntryNotFoundError("cannot find the requested files in the disk cache") from refused
    except LocalEntryNotFoundError as exc:
        wrapped = exc
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    line = str(hub_error(wrapped, "model 'owner/model'", "check model_name"))
    assert "check model_name" not in line
    if offline:
        assert "HF_HUB_OFFLINE" in line and "not in the local Hugging Face cache" in line
    else:
        assert "could not reach the Hub for model 'owner/model' (ConnectError)" in line


def test_a_disk_that_fills_during_training_is_one_line_and_publishes_nothing(
    tiny_model, finished_run, tmp_path, monkeypatch, capsys
):
    """safetensors reports a full disk in its own error type: still one line, the work folder removed,
    outputs/latest left on the last good run."""
    import shutil as sh

    import transformers.modeling_utils
    from safetensors import SafetensorError

    from scripts import train
    from tests.helpers import tiny_args, write_binary_csv

    out = tmp_path / "outputs"
    sh.copytree(finished_run, out / finished_run.name)
    (out / "latest").symlink_to(finished_run.name)

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", full)
    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=30)
    code = run_cli(
        train.main, ["--data", str(csv), "--set", *tiny_args(tiny_model, out), "num_train_epochs=1"]
    )
    assert code == 2
    err = capsys.readouterr().err  # progress bars come first
    line = err.strip().splitlines()[-1]
    assert "Traceback" not in err and line.startswith("error: ")
    assert "filled up while" in line and "nothing was published and outputs/latest is unchanged" in line
    assert (out / "latest").resolve().name == finished_run.name
    assert not any((out / ".incomplete").iterdir())


def test_torch_s_full_disk_message_is_recognised_by_the_free_space(tmp_path):
    """torch's zip writer says only "unexpected pos" on a full disk: the free space left decides."""
    import errno

    from scripts.common.runs import disk_full

    opaque = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")
    assert not disk_full(opaque, tmp_path)  # this disk has room: not called a full disk
    assert disk_full(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    assert not disk_full(OSError(errno.ENOENT, "No such file"), tmp_path)
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(tmp_path)]).returncode
    ):
        pytest.skip("mounting a small tmpfs needs root")
    try:
        import torch

        with pytest.raises(RuntimeError) as real:
            torch.save({"w": torch.zeros(1_000_000)}, tmp_path / "w.pt")
        assert disk_full(real.value, tmp_path)
    finally:
        subprocess.run(["umount", "-l", str(tmp_path)], check=True)  # lazy: torch may hold the file
