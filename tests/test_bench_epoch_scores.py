"""bench.epoch_scores: the k-fold choice of one curve draw, then the test rows' verdict on every epoch of
the final model's schedule (a tiny model, a few rows)."""

from __future__ import annotations

import re

from bench import epoch_scores
from tests.helpers import tiny_args, write_binary_csv


def test_every_epoch_of_the_schedule_is_scored_and_the_chosen_one_marked(tiny_model, tmp_path, capsys):
    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=40)
    extra = ["num_train_epochs=3", "model_selection=kfold", "probe_start=False"]
    epoch_scores.main(
        ["--data", str(csv), "--per-class", "8", "--draw", "1", "--set"]
        + tiny_args(tiny_model, tmp_path / "out")
        + extra
    )
    out = capsys.readouterr().out
    by_epoch = re.search(r"out-of-fold \S+ by epoch: ((?:[\d.]+ ?){3})$", out, flags=re.M)
    assert by_epoch, out
    chosen = int(re.search(r"chosen by k-fold: (\d) epochs", out).group(1))
    lines = re.findall(
        r"^epoch (\d): test accuracy (\d\.\d{4}) \(false positives (\d+), false negatives (\d+); "
        r"(\d+) of (\d+) positive\)(  <- chosen)?$",
        out,
        flags=re.M,
    )
    assert [int(line[0]) for line in lines] == [1, 2, 3]  # every epoch of the schedule, not only the chosen
    assert [int(line[0]) for line in lines if line[6]] == [chosen]
    for _, accuracy, fp, fn, _, total, _ in lines:
        assert abs(float(accuracy) - (1 - (int(fp) + int(fn)) / int(total))) < 1e-4
