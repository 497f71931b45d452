import pytest

from scripts.common import settings
from scripts.common.errors import UserError


def test_defaults_resolve_and_keys_are_unique():
    cfg = settings.resolve()
    assert cfg["dataset"] == "sms_spam"
    assert cfg["max_seq_length"] == "auto"
    sections = settings.by_section(cfg)
    assert sum(len(v) for v in sections.values()) == len(cfg)


def test_overrides_are_typed():
    cfg = settings.resolve(
        settings.parse_overrides(
            [
                "num_train_epochs=5",
                "learning_rate=3e-5",
                "text_column=v2",
                "max_seq_length=64",
                "label_column=['a','b']",
                "use_early_stopping=False",
                "separator=\\t",
            ]
        )
    )
    assert cfg["num_train_epochs"] == 5 and cfg["learning_rate"] == 3e-5
    assert cfg["text_column"] == "v2" and cfg["max_seq_length"] == 64
    assert cfg["label_column"] == ["a", "b"] and cfg["use_early_stopping"] is False
    assert cfg["separator"] == "\t"


def test_int_accepted_for_float_key():
    assert settings.resolve({"learning_rate": 1})["learning_rate"] == 1.0


@pytest.mark.parametrize(
    "item, needle",
    [
        ("num_train_epoch=3", "did you mean 'num_train_epochs'"),
        ("learning_rate=fast", "learning_rate='fast': give a number or auto"),
        ("manual_seed=x", "manual_seed='x': manual_seed takes a whole number"),
        ("num_train_epochs=-1", "must be greater than 0"),
        ("task=ranking", "choose one of auto, binary, multiclass, multilabel, regression"),
        ("num_train_epochs=True", "num_train_epochs takes a whole number or auto"),
        ("balance=smote", "choose one of"),
        ("test_size=1.5", "fraction"),
        ("use_early_stopping=1", "use_early_stopping takes True, False or auto"),
        ("max_seq_length=long", "max_seq_length='long'"),
    ],
)
def test_bad_overrides_name_the_problem(item, needle):
    with pytest.raises(UserError) as err:
        settings.resolve(settings.parse_overrides([item]))
    assert needle in str(err.value)


def test_override_without_equals():
    with pytest.raises(UserError, match="not KEY=VALUE"):
        settings.parse_overrides(["epochs"])


def test_auto_keys_take_numbers_and_recipes_fill_them():
    from scripts.training import recipes

    cfg = settings.resolve({"learning_rate": 3e-5})
    chosen, reasons = recipes.choose(cfg, "multilabel", 40000, 28)
    assert "learning_rate" not in chosen  # the user's value wins
    assert chosen["num_train_epochs"] == 5 and chosen["train_batch_size"] == 32
    assert all(": " in r for r in reasons) and len(reasons) == len(chosen)
    chosen, _ = recipes.choose(settings.resolve(), "binary", 3600, 2)
    assert chosen == {
        "learning_rate": 5e-5,
        "num_train_epochs": 3,
        "train_batch_size": 16,
        "warmup_ratio": 0.06,
        "tune_binary_threshold": False,
        "use_early_stopping": True,
        "probe_start": False,
    }  # no validation positives counted
    chosen, _ = recipes.choose(settings.resolve(), "multiclass", 600, 8)  # 75 a class: not small
    assert chosen["num_train_epochs"] == 8


def test_binary_threshold_is_tuned_only_with_enough_validation_positives():
    from scripts.training import recipes

    cut = recipes.MIN_POSITIVES_TO_TUNE
    assert recipes.choose(settings.resolve(), "binary", 4000, 2, cut)[0]["tune_binary_threshold"] is True
    assert recipes.choose(settings.resolve(), "binary", 4000, 2, cut - 1)[0]["tune_binary_threshold"] is False
    assert recipes.choose(settings.resolve(), "multiclass", 4000, 8, 500)[0]["tune_binary_threshold"] is False
    forced = settings.resolve({"tune_binary_threshold": False})
    assert "tune_binary_threshold" not in recipes.choose(forced, "binary", 4000, 2, 500)[0]
    with pytest.raises(UserError, match="True, False or auto"):
        settings.resolve({"tune_binary_threshold": "sometimes"})


def test_list_survives_the_shell_eating_its_quotes():
    assert settings.parse_value("[toxic,insult]") == ["toxic", "insult"]
    assert settings.parse_value("['toxic', 'insult']") == ["toxic", "insult"]


def test_length_grouping_and_class_mix_are_auto_true_or_false():
    from scripts.training.recipes import grouping

    assert settings.resolve({"length_grouping": True})["length_grouping"] is True
    assert settings.resolve({"grouping_class_mix": False})["grouping_class_mix"] is False
    with pytest.raises(UserError, match="True, False or auto"):
        settings.resolve({"length_grouping": "yes"})
    with pytest.raises(UserError, match="True, False or auto"):
        settings.resolve({"grouping_class_mix": "sometimes"})
    # auto: grouped on every run, keeping the class mix under 250 steps
    assert grouping("auto", "auto", rows=800, batch_size=16, epochs=1) == (True, True)  # 50 steps
    assert grouping("auto", "auto", rows=1984, batch_size=16, epochs=2) == (True, True)  # 248 steps
    assert grouping("auto", "auto", rows=2000, batch_size=16, epochs=2) == (True, False)  # 250 steps
    assert grouping("auto", "auto", rows=40000, batch_size=32, epochs=5) == (True, False)
    assert grouping(False, "auto", rows=800, batch_size=16, epochs=1) == (False, False)  # nothing to mix
    assert grouping(True, True, rows=40000, batch_size=32, epochs=5) == (True, True)
    assert grouping("auto", False, rows=800, batch_size=16, epochs=1) == (True, False)


def test_the_docs_document_every_config_key_with_its_default():
    """docs/config.md has a row per key of scripts/config.py, showing the shipped default."""
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", docs, flags=re.M))
    for key, default in settings.flat_defaults().items():
        assert key in rows, f"docs/config.md lacks {key}"
        assert rows[key] == str(default), (key, rows[key], default)


def test_sub_batches_are_on_for_one_cpu_process_and_refused_with_several(monkeypatch):
    import torch

    from scripts.training.recipes import choose_runtime, use_sub_batches

    with pytest.raises(UserError, match="True, False or auto"):
        settings.resolve({"sub_batches": "maybe"})
    run = {"train_batch_size": 16, "num_train_epochs": 1}
    chosen, reasons = choose_runtime(settings.resolve(run), rows_per_epoch=800)
    assert chosen["sub_batches"] is True and any(
        r.startswith("sub_batches=True: training on the CPU") for r in reasons
    )
    assert use_sub_batches(False) is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert use_sub_batches("auto") is False and use_sub_batches(True) is True  # a GPU: off unless asked for
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert use_sub_batches("auto") is False  # DistributedDataParallel takes one forward pass a step
    with pytest.raises(UserError, match="sub_batches=true cannot run with several processes"):
        choose_runtime(settings.resolve({**run, "sub_batches": True}), rows_per_epoch=800)


def test_many_labels_sharing_few_rows_get_the_small_data_recipe():
    """448 rows for 28 labels (16 a label) train like small data; as many rows for 2 labels do not."""
    from scripts.training.recipes import SMALL_DATA_ROWS, SMALL_ROWS_PER_LABEL, choose

    cfg = settings.resolve({})
    rows = 16 * 28
    assert SMALL_DATA_ROWS <= rows < SMALL_ROWS_PER_LABEL * 28
    many, reasons = choose(cfg, "multilabel", rows, 28)
    assert (many["train_batch_size"], many["use_early_stopping"]) == (8, False)
    assert any("16 a label" in r for r in reasons)
    few, _ = choose(cfg, "multilabel", SMALL_ROWS_PER_LABEL * 28, 28)
    assert (few["train_batch_size"], few["use_early_stopping"]) == (16, True)
    assert choose(cfg, "binary", rows, 2)[0]["train_batch_size"] == 16
    # Reuters R8 at 64 rows per class: 388 training rows for 8 classes, 48 a class
    assert choose(cfg, "multiclass", 388, 8)[0]["learning_rate"] == 1e-4


def test_small_data_gets_hundreds_of_steps_and_no_early_stopping_on_a_tiny_validation():
    from scripts.training.recipes import SMALL_DATA_ROWS, choose

    cfg = settings.resolve({})
    small, reasons = choose(cfg, "binary", SMALL_DATA_ROWS - 1, 2)
    assert small == {**small, "train_batch_size": 8, "learning_rate": 1e-4}
    assert small["use_early_stopping"] is False and any("small data" in r for r in reasons)
    for rows, epochs in ((16, 30), (114, 10), (SMALL_DATA_ROWS - 1, 10)):  # about 120 steps, 10 to 30 epochs
        assert choose(cfg, "binary", rows, 2)[0]["num_train_epochs"] == epochs
    usual, _ = choose(cfg, "binary", SMALL_DATA_ROWS, 2)
    assert (usual["train_batch_size"], usual["num_train_epochs"], usual["learning_rate"]) == (16, 8, 5e-5)
    assert usual["use_early_stopping"] is True
    kept, _ = choose({**cfg, "use_early_stopping": True, "num_train_epochs": 4}, "binary", 40, 2)
    assert "use_early_stopping" not in kept and "num_train_epochs" not in kept  # the user's values stand
