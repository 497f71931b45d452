"""make sweep (Optuna on validation only, pruning, resume), training curves in TensorBoard, SET=@best.json,
and make compare (only comparable runs ranked together), on the tiny model."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from scripts import compare, sweep, train
from scripts.common import runs, settings
from scripts.common.errors import UserError, run_cli
from scripts.training import fit
from tests.helpers import tiny_args, train_run, write_binary_csv

SMALL_SPACE = {
    "learning_rate": ("log", 5e-4, 5e-3),
    "num_train_epochs": ("int", 2, 3),
    "balance": ("choice", ["class_weight", "none"]),
}


@pytest.fixture
def small_space(monkeypatch):
    import scripts.config

    monkeypatch.setattr(scripts.config, "SEARCH", SMALL_SPACE)


def sweep_cfg(csv, tiny_model, out) -> dict:
    overrides = settings.parse_overrides([*tiny_args(tiny_model, out), "use_early_stopping=False"])
    return settings.resolve({**overrides, "dataset": str(csv)})


def test_sweep_runs_never_reads_test_prunes_and_resumes(
    small_space, tiny_model, tmp_path, monkeypatch, capsys
):
    import optuna

    csv = write_binary_csv(tmp_path / "b.csv", ham=150, spam=75)
    cfg = sweep_cfg(csv, tiny_model, tmp_path / "outputs")
    seen = []
    original = fit.train

    def spying(task, arch, base, labels, train_df, eval_df, *args, **kwargs):
        seen.append((set(train_df["text"]), set(eval_df["text"])))
        return original(task, arch, base, labels, train_df, eval_df, *args, **kwargs)

    monkeypatch.setattr(fit, "train", spying)
    # every trial after the first two is pruned at its first report: the pruning path is exercised for sure
    monkeypatch.setattr(optuna.pruners, "MedianPruner", lambda **kw: _PruneAfter(2))
    folder = sweep.run_sweep(cfg, trials=2, name="s", retrain=False)
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{folder / 'study.db'}")
    assert len(study.trials) == 2

    # resume to 3 trials: the finished ones are not rerun, the new one is pruned
    folder = sweep.run_sweep(cfg, trials=3, name="s", resume=True, retrain=True)
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{folder / 'study.db'}")
    states = [t.state.name for t in study.trials]
    assert len(study.trials) == 3 and states.count("PRUNED") == 1, states
    table = pd.read_csv(folder / "trials.csv")
    assert list(table["state"]) == [s.lower() for s in states] and "seconds" in table
    assert (folder / "optimization_history.png").exists() and (folder / "trials.md").exists()
    best = json.loads((folder / "best.json").read_text())
    assert best["trials"] == 3 and set(best["params"]) == set(SMALL_SPACE)

    # the test split never reached a trial (4 training calls: 3 trials and the retrained best run)
    final = (tmp_path / "outputs" / "latest").resolve()
    test_texts = set(pd.read_csv(runs.split_path(final, "test"))["text"])
    validation = set(pd.read_csv(runs.split_path(final, "validation"))["text"])
    assert len(seen) == 4
    # 22 validation rows: the sweep says its ranking is mostly chance and best.json keeps the count
    assert best["validation_rows"] == len(validation) < 50
    assert f"the validation split has {len(validation)} rows (< 50)" in capsys.readouterr().out
    for train_texts, eval_texts in seen[:3]:
        assert not (train_texts | eval_texts) & test_texts and eval_texts == validation
    record = runs.read_record(final)
    assert final.name == "s-best" and record["hyperparameter_search"]["trials"] == 3
    from scripts import card

    assert "chosen by a sweep of 3 trials" in card.render(final).content


class _PruneAfter:
    """A pruner that lets the first n trials finish and prunes every later one at its first report."""

    def __init__(self, n: int):
        self.n = n

    def prune(self, study, trial) -> bool:
        return trial.number >= self.n


def test_best_json_round_trips_into_make_train(tiny_model, tmp_path):
    best = tmp_path / "best.json"
    best.write_text(
        json.dumps({"params": {"learning_rate": 0.003, "num_train_epochs": 2, "balance": "none"}})
    )
    run = train_run(
        write_binary_csv(tmp_path / "b.csv", 60, 30), tiny_args(tiny_model, tmp_path / "o"), f"@{best}"
    )
    flat = runs.saved_config(run)
    assert flat["learning_rate"] == 0.003 and flat["num_train_epochs"] == 2 and flat["balance"] == "none"


def test_a_bad_saved_configuration_is_one_line(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("[1, 2]")
    for target in (tmp_path / "missing.json", tmp_path / "bad.json"):
        assert run_cli(train.main, ["--set", f"@{target}"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: SET=@") and len(err.splitlines()) == 1


def test_sweep_resume_without_a_study_is_one_line(tmp_path, capsys):
    code = run_cli(sweep.main, ["--name", "nothing", "--resume", "--set", f"outputs_dir={tmp_path}"])
    assert code == 2 and "nothing to resume" in capsys.readouterr().err


def test_training_curves_are_in_tensorboard(tiny_model, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train_run(
        write_binary_csv(tmp_path / "b.csv", 60, 30),
        tiny_args(tiny_model, tmp_path / "o"),
        "num_train_epochs=2",
    )
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss", "lr", "train/grad_norm", "validation/eval_loss", "validation/f1_positive"} <= tags
    steps = len(events.Scalars("loss"))
    assert steps == len(events.Scalars("train/grad_norm")) > 2  # one point a step
    assert [e.step for e in events.Scalars("validation/f1_positive")] == [1, 2]  # one point an epoch


def test_compare_ranks_only_runs_tested_on_the_same_rows(tiny_model, tmp_path, capsys, monkeypatch):
    from scripts import evaluate

    out = tmp_path / "outputs"
    csv = write_binary_csv(tmp_path / "b.csv", 60, 30)
    a = train_run(csv, tiny_args(tiny_model, out), "num_train_epochs=1", "run_name=a")
    b = train_run(csv, tiny_args(tiny_model, out), "num_train_epochs=2", "run_name=b")
    other = train_run(csv, tiny_args(tiny_model, out), "num_train_epochs=1", "run_name=c", "manual_seed=7")
    for run in (a, b, other):
        evaluate.evaluate(run, threads=1)
    groups = compare.leaderboard([a, b, other])
    assert sorted(len(rows) for rows in groups.values()) == [1, 2]  # another seed, another test split
    pair = next(rows for rows in groups.values() if len(rows) == 2)
    assert {r["run"] for r in pair} == {"a", "b"} and pair[0]["test"] >= pair[1]["test"]
    monkeypatch.setattr(runs, "outputs_dir", lambda cfg: out)
    assert run_cli(compare.main, ["--runs", "a,b,c"]) == 0
    text = (a.parent / "compare.md").read_text()
    assert text.count("(test split ") == 2 and (a.parent / "compare.png").exists()


def test_compare_with_no_runs_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "outputs_dir", lambda cfg: tmp_path)
    with pytest.raises(UserError, match="no finished runs"):
        compare.main([])


def test_report_to_wandb_logs_offline_into_the_run(tiny_model, tmp_path, monkeypatch):
    """W&B through Simple Transformers' own logging; offline here, so no key and no network are needed."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    run = train_run(
        write_binary_csv(tmp_path / "b.csv", 60, 30),
        tiny_args(tiny_model, tmp_path / "o"),
        "num_train_epochs=1",
        "report_to=wandb",
    )
    assert list((run / "wandb").glob("offline-run-*"))


def test_a_sweep_interrupted_in_a_trial_resumes_without_rerunning_finished_trials(
    small_space, tiny_model, tmp_path, monkeypatch
):
    import optuna

    from scripts.training.st.batching import LengthGroupedBatches
    from scripts.training.st.patches import STOP

    cfg = sweep_cfg(write_binary_csv(tmp_path / "b.csv", ham=150, spam=75), tiny_model, tmp_path / "outputs")
    original = LengthGroupedBatches.__iter__
    started = {"trials": 0}

    def iterate(self):  # Ctrl-C in the second epoch of the second trial
        if self.epoch == 0:
            started["trials"] += 1
        if started["trials"] == 2 and self.epoch == 1:
            STOP.set()
        yield from original(self)

    with monkeypatch.context() as patch:
        patch.setattr(LengthGroupedBatches, "__iter__", iterate)
        with pytest.raises(KeyboardInterrupt):
            sweep.run_sweep(cfg, trials=3, name="cut", retrain=False)
    folder = tmp_path / "outputs" / "sweeps" / "cut"
    storage = f"sqlite:///{folder / 'study.db'}"
    first = optuna.load_study(study_name="cut", storage=storage).trials
    assert [t.state.name for t in first][0] == "COMPLETE" and len(first) == 2
    sweep.run_sweep(cfg, trials=3, name="cut", resume=True, retrain=False)
    trials = optuna.load_study(study_name="cut", storage=storage).trials
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == 3 and trials[0].datetime_complete == first[0].datetime_complete  # not rerun
    assert trials[1].state.name == "FAIL"  # the interrupted trial is marked failed and a new one run


def test_make_tensorboard_serves_the_runs(tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    project = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "tensorboard", f"PORT={port}"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, answer = time.time() + 90, None
        while time.time() < deadline and answer is None:
            try:
                answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/data/environment", timeout=2).status
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
                time.sleep(0.5)
        assert answer == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_resumed_sweep_draws_new_parameters_and_refuses_changed_settings(small_space, tiny_model, tmp_path):
    import optuna

    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=30)
    cfg = sweep_cfg(csv, tiny_model, tmp_path / "outputs")
    cfg["num_train_epochs"] = 1
    folder = sweep.run_sweep(cfg, trials=2, name="r", retrain=False)
    folder = sweep.run_sweep(cfg, trials=4, name="r", resume=True, retrain=False)
    study = optuna.load_study(study_name="r", storage=f"sqlite:///{folder / 'study.db'}")
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(params) == 4 and params[2:] != params[:2]  # a seeded sampler replayed the first draws
    with pytest.raises(UserError, match="started with other settings .*manual_seed"):
        sweep.run_sweep({**cfg, "manual_seed": 7}, trials=5, name="r", resume=True, retrain=False)


def test_a_sweep_that_cannot_train_leaves_no_study(small_space, tiny_model, tmp_path):
    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=30)
    cfg = {**sweep_cfg(csv, tiny_model, tmp_path / "outputs"), "gradient_accumulation_steps": 99}
    with pytest.raises(UserError, match="no optimizer step"):
        sweep.run_sweep(cfg, trials=1, name="bad", retrain=False)
    assert not (tmp_path / "outputs" / "sweeps" / "bad" / "study.db").exists()
    cfg["gradient_accumulation_steps"] = 1
    assert (sweep.run_sweep(cfg, trials=1, name="bad", retrain=False) / "best.json").exists()
