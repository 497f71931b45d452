"""Every example config in configs/ resolves to a valid configuration; those that need no network train."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.common import settings
from tests.conftest import SHARED
from tests.helpers import tiny_args, train_run, write_binary_csv

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.json"))


def test_there_are_example_configs():
    assert {p.name for p in CONFIGS} >= {"multilabel.json", "gpu-deberta.json"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_each_config_resolves_as_written(path):
    overrides = settings.parse_overrides([f"@{path}"])
    assert overrides == json.loads(path.read_text())
    cfg = settings.resolve(overrides)
    assert all(cfg[key] == value for key, value in overrides.items() if key != "model_type")


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "goemotions").exists(), reason="../shared/datasets is not here")
def test_the_multilabel_config_trains_on_goemotions(tiny_model, tmp_path):
    run = train_run(
        Path("goemotions"),
        tiny_args(tiny_model, tmp_path / "out"),
        f"@{CONFIGS[[p.name for p in CONFIGS].index('multilabel.json')]}",
        "max_train_rows=300",
        "num_train_epochs=1",
    )
    record = json.loads((run / "run.json").read_text())
    assert record["task"] == "multilabel" and record["balance"]["method"] == "pos_weight"


def test_the_quick_look_config_trains(tiny_model, tmp_path):
    csv = write_binary_csv(tmp_path / "b.csv", ham=400, spam=200)
    path = CONFIGS[[p.name for p in CONFIGS].index("quick-look.json")]
    run = train_run(csv, tiny_args(tiny_model, tmp_path / "out"), f"@{path}", "max_train_rows=300")
    record = json.loads((run / "run.json").read_text())
    assert record["dataset"]["split"]["sizes"]["train"] == 300 and len(record["counts"]) == 3
