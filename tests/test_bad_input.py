"""The bad-input corpus: each case exits 2 with one line naming the problem and the fix, no traceback,
and leaves outputs/ exactly as it was. Files are generated here; no real data is copied."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from scripts import app, evaluate, fetch, predict, push, train
from scripts.common.errors import run_cli
from tests.conftest import make_frame, make_multilabel_frame


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def good_frame() -> pd.DataFrame:
    return make_frame({"ham": 40, "spam": 20})


# Each case: (files to write) -> (entry point, argv, what the message must contain)
def case_empty_file(t, m):
    return train.main, ["--data", str(write(t / "e.csv", ""))], "is empty"


def case_whitespace_only(t, m):
    return train.main, ["--data", str(write(t / "w.csv", "\n\n  \n"))], "is empty"


def case_header_only(t, m):
    return train.main, ["--data", str(write(t / "h.csv", "text,label\n"))], "no data rows"


def case_missing_text_column(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return train.main, ["--data", str(t / "d.csv"), "--set", "text_column=txt"], "did you mean 'text'"


def case_missing_label_column(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return train.main, ["--data", str(t / "d.csv"), "--set", "label_column=lable"], "did you mean 'label'"


def case_wrong_separator(t, m):
    good_frame().to_csv(t / "d.csv", index=False, sep=";")
    return train.main, ["--data", str(t / "d.csv"), "--set", "separator=','"], "separator is probably wrong"


def case_wrong_encoding(t, m):
    write(
        t / "l.csv",
        ("text,label\n" + "".join(f"caf\xe9 {i},{'a' if i % 2 else 'b'}\n" for i in range(20))).encode(
            "latin-1"
        ),
    )
    return train.main, ["--data", str(t / "l.csv"), "--set", "encoding='utf-8'"], "cannot be read as utf-8"


def case_unknown_encoding(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", "encoding='klingon'"],
        "is not a codec Python knows",
    )


def case_all_texts_empty(t, m):
    write(t / "n.csv", "text,label\n" + "".join(f",{'a' if i % 2 else 'b'}\n" for i in range(10)))
    return train.main, ["--data", str(t / "n.csv")], "no usable rows"


def case_single_class(t, m):
    make_frame({"ham": 30}).to_csv(t / "s.csv", index=False)
    return train.main, ["--data", str(t / "s.csv")], "only one class ('ham')"


def case_class_with_one_example(t, m):
    frame = pd.concat([good_frame(), pd.DataFrame({"text": ["lonely words"], "label": ["rare"]})])
    frame.to_csv(t / "r.csv", index=False)
    return train.main, ["--data", str(t / "r.csv")], "class 'rare' has 1 example(s)"


def case_numbers_and_words_mixed(t, m):
    frame = good_frame()
    frame.loc[:4, "label"] = "1"
    frame.to_csv(t / "x.csv", index=False)
    return train.main, ["--data", str(t / "x.csv")], "mixes numbers"


def case_multilabel_rows_without_labels(t, m):
    frame = make_multilabel_frame(30).assign(labels="")
    frame.to_csv(t / "ml.csv", index=False)
    return train.main, ["--data", str(t / "ml.csv"), "--set", "task='multilabel'"], "no usable rows"


def case_onehot_not_binary(t, m):
    frame = pd.DataFrame(
        {"text": [f"t {i}" for i in range(20)], "toxic": [0, 1, 2, 0] * 5, "insult": [0, 1] * 10}
    )
    frame.to_csv(t / "o.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "o.csv"), "--set", "label_column=['toxic','insult']"],
        "values other than 0/1",
    )


def case_only_conflicting_duplicates(t, m):
    frame = pd.DataFrame({"text": ["same words"] * 2 + ["other words"] * 2, "label": ["a", "b", "a", "b"]})
    frame.to_csv(t / "c.csv", index=False)
    return train.main, ["--data", str(t / "c.csv")], "4 conflicting labels"


def case_binary_file_as_csv(t, m):
    return (
        train.main,
        ["--data", str(write(t / "model.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)))],
        "binary file",
    )


def case_invalid_json(t, m):
    return train.main, ["--data", str(write(t / "d.json", "{not json"))], "not valid JSON"


def case_unknown_config_key(t, m):
    return train.main, ["--set", "num_epochs=3"], "did you mean"


def case_bad_override_type(t, m):
    return train.main, ["--set", "train_batch_size=big"], "give a whole number or auto"


def case_bad_override_choice(t, m):
    return train.main, ["--set", "task=ranking"], "choose one of"


def case_negative_epochs(t, m):
    return train.main, ["--set", "num_train_epochs=-2"], "must be greater than 0"


def case_override_without_value(t, m):
    return train.main, ["--set", "learning_rate"], "not KEY=VALUE"


def case_split_sizes_too_large(t, m):
    return train.main, ["--set", "validation_size=0.5", "test_size=0.45"], "under 10 %"


def case_model_name_not_a_name(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", "model_name='no such/model/at all'"],
        "neither a folder nor a Hub id",
    )


def case_model_unreachable(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", "model_name='quickfit-test/does-not-exist'"],
        "model 'quickfit-test/does-not-exist' is not in the local Hugging Face cache",
    )


def case_model_folder_without_config(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    (t / "empty_model").mkdir()
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", f"model_name='{t / 'empty_model'}'"],
        "no config.json",
    )


def case_pickle_only_weights(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    folder = t / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    return train.main, ["--data", str(t / "d.csv"), "--set", f"model_name='{folder}'"], "pickle weights"


def case_unknown_model_type(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", "model_type='gpt-7'"],
        "model_type='gpt-7' is not supported",
    )


def case_model_type_of_another_architecture(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", f"model_name='{m}'", "model_type='roberta'"],
        "is a 'bert' model",
    )


def case_unsupported_architecture_in_config(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    folder = t / "gpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    import torch
    from safetensors.torch import save_file

    save_file({"wte.weight": torch.zeros(4, 2)}, str(folder / "model.safetensors"))
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", f"model_name='{folder}'"],
        "quickfit does not train",
    )


def case_half_precision_without_a_gpu(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", f"model_name='{m}'", "precision='bf16'"],
        "needs a CUDA GPU",
    )


def case_dataset_missing(t, m):
    return train.main, ["--data", str(t / "nope.csv")], "neither a preset"


def case_dataset_is_folder(t, m):
    return train.main, ["--data", str(t)], "is a folder"


def case_binary_task_with_three_classes(t, m):
    make_frame({"sport": 20, "money": 20, "food": 20}).to_csv(t / "d.csv", index=False)
    return train.main, ["--data", str(t / "d.csv"), "--set", "task='binary'"], "set task=multiclass"


def case_single_label_task_on_multilabel_data(t, m):
    frame = make_multilabel_frame(40)
    frame.assign(labels=frame["labels"].map(str)).to_csv(t / "d.csv", index=False)
    return train.main, ["--data", str(t / "d.csv"), "--set", "task='multiclass'"], "set task=multilabel"


def case_same_text_and_label_column(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", "text_column='label'", "label_column='label'"],
        "same column",
    )


def case_positive_label_unknown(t, m):
    good_frame().to_csv(t / "d.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", "positive_label='junk'"],
        "positive_label='junk' is not a label",
    )


def case_resampling_multilabel(t, m):
    frame = make_multilabel_frame(60)
    frame.assign(labels=frame["labels"].map(",".join)).to_csv(t / "d.csv", index=False)
    return (
        train.main,
        ["--data", str(t / "d.csv"), "--set", f"model_name='{m}'", "balance='oversample'"],
        "no multi-label",
    )


def case_resume_without_interrupted_run(t, m):
    return train.main, ["--resume", "--set", f"outputs_dir='{t / 'outputs'}'"], "nothing to resume"


def case_eval_run_missing(t, m):
    return evaluate.main, ["--run", str(t / "no_such_run")], "not found"


def case_eval_label_unseen(t, m):
    pd.DataFrame({"text": ["free cash now", "see you", "odd"], "label": ["spam", "ham", "promo"]}).to_csv(
        t / "e.csv", index=False
    )
    return evaluate.main, ["--run", "RUN", "--data", str(t / "e.csv")], "never saw in training: ['promo']"


def case_push_no_token(t, m):
    return push.main, ["--repo", "me/model", "--run", "RUN"], "no Hugging Face token"


def case_push_bad_repo_id(t, m):
    return push.main, ["--repo", "me/bad name!", "--run", "RUN"], "is not a Hub repo id"


def case_kaggle_bad_slug(t, m):
    return fetch.main, ["--kaggle", "just-a-name"], "give owner/dataset"


def case_kaggle_no_credentials(t, m):
    return fetch.main, ["--kaggle", "uciml/sms-spam-collection-dataset"], "no Kaggle credentials"


# ---------------------------------------------------------------- round 2 (issue 14)


def _data(t):
    good_frame().to_csv(t / "d.csv", index=False)
    return str(t / "d.csv")


def case_fractional_epochs(t, m):
    return (
        train.main,
        ["--data", _data(t), "--set", "num_train_epochs=2.5"],
        "num_train_epochs=2.5: give a whole number",
    )


def case_infinite_epochs(t, m):
    return train.main, ["--data", _data(t), "--set", "num_train_epochs=1e999"], "give a finite number"


def case_nan_learning_rate(t, m):
    return train.main, ["--data", _data(t), "--set", "learning_rate=float('nan')"], "learning_rate="


def case_max_seq_length_below_8(t, m):
    return train.main, ["--data", _data(t), "--set", "max_seq_length=4"], "must be at least 8"


def case_empty_separator(t, m):
    return train.main, ["--data", _data(t), "--set", "separator=''"], "separator='': must not be empty"


def case_empty_label_delimiter(t, m):
    return (
        train.main,
        ["--data", _data(t), "--set", "label_delimiter=''"],
        "label_delimiter='': must not be empty",
    )


def case_empty_text_column(t, m):
    return train.main, ["--data", _data(t), "--set", "text_column='  '"], "must not be empty"


def case_seed_too_large(t, m):
    return train.main, ["--data", _data(t), "--set", "manual_seed=99999999999"], "manual_seed=99999999999"


def case_run_name_with_a_slash(t, m):
    return train.main, ["--data", _data(t), "--set", "run_name='../escape'"], "plain folder name"


def case_max_train_rows_below_classes(t, m):
    return (
        train.main,
        ["--data", _data(t), "--set", f"model_name='{m}'", "max_train_rows=1"],
        "below the 2 classes",
    )


def case_duplicate_column_names(t, m):
    write(t / "dup.csv", "text,label,label\n" + "".join(f"words {i},a,b\n" for i in range(20)))
    return train.main, ["--data", str(t / "dup.csv")], "columns named twice in its header ('label')"


def case_unclosed_quote(t, m):
    rows = "".join(f"words {i},{'a' if i % 2 else 'b'}\n" for i in range(10))
    write(t / "q.csv", "text,label\n" + rows + '"never closed,a\n' + rows.replace("words", "more"))
    return train.main, ["--data", str(t / "q.csv")], "unclosed quote starting near line 12"


def case_row_with_too_many_fields(t, m):
    rows = "".join(f"words {i},{'a' if i % 2 else 'b'}\n" for i in range(10))
    write(t / "f.csv", "text,label\n" + rows + "hello, world,a\n" + rows.replace("words", "more"))
    return train.main, ["--data", str(t / "f.csv")], "line 12 has 3 fields where the header has 2"


def case_too_few_column_names(t, m):
    write(t / "n.tsv", "".join(f"{'a' if i % 2 else 'b'}\twords {i}\n" for i in range(20)))
    return (
        train.main,
        ["--data", str(t / "n.tsv"), "--set", "column_names=['text']"],
        "column_names has 1 name(s)",
    )


def case_unlabelled_file_for_training(t, m):
    write(t / "u.csv", "text\n" + "".join(f"words {i}\n" for i in range(20)))
    return train.main, ["--data", str(t / "u.csv")], "needs a text column and a label column"


def case_empty_safetensors_base(t, m):
    import shutil

    folder = t / "broken"
    shutil.copytree(m, folder)
    (folder / "model.safetensors").write_bytes(b"")
    return (
        train.main,
        ["--data", _data(t), "--set", f"model_name='{folder}'"],
        "not a readable safetensors file",
    )


def case_truncated_safetensors_base(t, m):
    import shutil

    folder = t / "truncated"
    shutil.copytree(m, folder)
    weights = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    return (
        train.main,
        ["--data", _data(t), "--set", f"model_name='{folder}'"],
        "not a readable safetensors file",
    )


def case_eval_run_without_model(t, m):
    import shutil

    def copy(run):
        shutil.copytree(run, t / "gutted")
        shutil.rmtree(t / "gutted" / "model")
        return str(t / "gutted")

    return evaluate.main, ["--run", COPY_RUN], "is incomplete (no model/model.safetensors", copy


def case_predict_run_without_model(t, m):
    import shutil

    def copy(run):
        shutil.copytree(run, t / "gutted")
        shutil.rmtree(t / "gutted" / "model")
        return str(t / "gutted")

    good_frame().to_csv(t / "new.csv", index=False)
    return predict.main, ["--run", COPY_RUN, "--input", str(t / "new.csv")], "is incomplete", copy


def case_predict_output_is_the_input(t, m):
    good_frame().to_csv(t / "new.csv", index=False)
    return (
        predict.main,
        ["--run", "RUN", "--input", str(t / "new.csv"), "--output", str(t / "." / "new.csv")],
        "would overwrite it",
    )


def case_predict_output_is_a_folder(t, m):
    good_frame().to_csv(t / "new.csv", index=False)
    return predict.main, ["--run", "RUN", "--input", str(t / "new.csv"), "--output", str(t)], "is a folder"


def case_push_non_ascii_token(t, m):
    import os

    os.environ["HF_TOKEN"] = "hf_abc\u00e9def"  # removed again by the test's monkeypatch clean-up
    return push.main, ["--repo", "me/model", "--run", "RUN"], "spaces or non-ASCII characters"


def case_app_on_a_busy_port(t, m):
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    _KEEP.append(busy)
    return app.main, ["--run", "RUN", "--port", str(busy.getsockname()[1])], "choose another port"


def case_wandb_without_a_key_in_a_run_without_a_terminal(t, m):
    import os

    os.environ.pop("WANDB_API_KEY", None)
    os.environ["NETRC"] = str(t / "no-netrc")
    return train.main, ["--data", _data(t), "--set", "report_to='wandb'"], "report_to=wandb needs a W&B key"


def case_mlflow_not_installed(t, m):
    return train.main, ["--data", _data(t), "--set", "report_to='mlflow'"], "needs the mlflow package"


_KEEP: list = []
COPY_RUN = "COPY_RUN"


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


def snapshot(folder: Path) -> list[tuple[str, int]]:
    return (
        sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))
        if folder.exists()
        else []
    )


def test_corpus_has_at_least_30_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_clear_line(name, tmp_path, tiny_model, finished_run, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # an unknown Hub id must fail fast, not wait on the network
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle"))
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))  # cases may change these; the clean-up restores them
    monkeypatch.setenv("HF_TOKEN", "")
    monkeypatch.delenv("HF_TOKEN")
    main, argv, needle, *prepare = CASES[name](tmp_path, tiny_model)
    argv = [str(finished_run) if a == "RUN" else a for a in argv]
    argv = [prepare[0](finished_run) if a == COPY_RUN else a for a in argv]
    outputs = tmp_path / "outputs"
    if main is train.main and "--resume" not in argv:
        # every training case writes into a test-owned outputs folder (holding a finished run to protect)
        extra = [f"outputs_dir='{outputs}'"]
        argv = argv + extra if "--set" in argv else argv + ["--set", *extra]
    outputs.mkdir(exist_ok=True)
    (outputs / "keep.txt").write_text("a good result")
    before = snapshot(outputs)
    run_before = snapshot(finished_run)
    code = run_cli(main, argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0], lines[0]
    assert snapshot(outputs) == before
    if main is not evaluate.main:
        assert snapshot(finished_run) == run_before


def test_debug_flag_shows_the_traceback(capsys):
    code = run_cli(train.main, ["--set", "num_epochs=3", "--debug"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" in err and "did you mean" in err


def test_messy_but_valid_files_load(tmp_path):
    """Kaggle's latin-1 `v1,v2,,,` layout, a BOM, quoted newlines and a 1 MB text are read, not refused."""
    from scripts.common import settings
    from scripts.data import sources
    from scripts.data.dataset import load_dataset

    big = "word " * 210_000  # ~1 MB single text: kept, truncated later by max_seq_length
    frame = good_frame()
    frame.loc[0, "text"] = big
    frame.to_csv(tmp_path / "big.csv", index=False)
    cfg = settings.resolve({"dataset": str(tmp_path / "big.csv")})
    ds = load_dataset(sources.get_source(cfg["dataset"]), cfg)
    assert ds.frames["all"]["text"].str.len().max() > 1_000_000 - 10
