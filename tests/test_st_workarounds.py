"""One test per Simple Transformers behaviour that quickfit works around (training/st/patches.py and
models.py). Each asserts the pinned library still behaves that way: when an upgrade fixes it, the test
fails, and the patch can go."""

from __future__ import annotations

import inspect

import pytest

st_module = pytest.importorskip("simpletransformers.classification.classification_model")


def source(obj) -> str:
    return inspect.getsource(obj)


def test_multilabel_constructor_lacks_auto_deberta_v3_modernbert_and_has_its_own_electra_head():
    """Why QuickMultiLabelModel builds transformers' own head instead of calling the upstream constructor:
    its model table has no `auto`, `debertav2` or `modernbert`, and its ELECTRA class is not
    transformers' (a plain transformers load would re-initialise that head at random)."""
    from simpletransformers.classification import multi_label_classification_model as ml
    from transformers import ElectraForSequenceClassification

    table = source(ml.MultiLabelClassificationModel.__init__)
    assert all(f'"{t}":' not in table for t in ("auto", "debertav2", "modernbert"))
    assert not issubclass(ml.ElectraForMultiLabelSequenceClassification, ElectraForSequenceClassification)


def test_resume_restarts_the_optimizer_schedule_and_scaler():
    """patches.restored_optimizer / tracked_grad_scaler: train() builds a fresh optimizer, schedule and
    GradScaler from module-level names and never loads their saved states."""
    train = source(st_module.ClassificationModel.train)
    assert "get_linear_schedule_with_warmup(" in train and "AdamW(" in train and "amp.GradScaler()" in train
    assert "optimizer.load_state_dict" not in train and "scheduler.load_state_dict" not in train
    assert hasattr(st_module, "get_linear_schedule_with_warmup") and hasattr(st_module, "AdamW")


def test_a_resumed_run_numbers_its_epochs_from_one_again():
    """patches.renumbered_checkpoint: checkpoint folders are named by an epoch counter that starts at 0
    in every call of train(), whatever epoch the run resumed at."""
    train = source(st_module.ClassificationModel.train)
    assert (
        "epoch_number = 0" in train and '"checkpoint-{}-epoch-{}".format(global_step, epoch_number)' in train
    )


def test_class_weights_are_refused_for_some_architectures():
    """models.FastPaths.set_class_weight: quickfit sets the weighted loss itself for every architecture."""
    assert {"deberta", "mpnet", "squeezebert"} <= set(st_module.MODELS_WITHOUT_CLASS_WEIGHTS_SUPPORT)


def test_there_is_fp16_but_no_bf16_switch():
    """models.FastPaths autocasts bf16 itself: the upstream loop knows fp16 (GradScaler) only."""
    train = source(st_module.ClassificationModel.train)
    assert "args.fp16" in train and "bf16" not in train
