"""DATA=hf:owner/name through the real `datasets.load_dataset`, against the local Hub stand-in; and local
Parquet files and save_to_disk folders, which train like a CSV."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from scripts import card, evaluate, fetch
from scripts.common import runs
from scripts.common.errors import run_cli
from tests.conftest import make_frame, make_multilabel_frame
from tests.helpers import tiny_args, train_run
from tests.hub_server import add_dataset, start_hub

PROJECT = Path(__file__).resolve().parent.parent
TOPICS = ["food", "money", "sport"]


def parquet(frame, features) -> bytes:
    import datasets

    buffer = io.BytesIO()
    datasets.Dataset.from_pandas(frame, features=features, preserve_index=False).to_parquet(buffer)
    return buffer.getvalue()


def readme(features: list[dict], splits: list[str]) -> bytes:
    """A dataset card whose metadata declares the features and the data files, as the Hub's do."""
    meta = {
        "license": "mit",
        "dataset_info": {"features": features},
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in splits],
            }
        ],
    }
    return f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n# test dataset\n".encode()


def binary_repo() -> dict[str, bytes]:
    from datasets import ClassLabel, Features, Value

    features = Features({"sms": Value("string"), "label": ClassLabel(names=["ham", "spam"])})
    frame = make_frame({"ham": 240, "spam": 120}).rename(columns={"text": "sms"})
    frame["label"] = frame["label"].map({"ham": 0, "spam": 1})
    train, test = frame.iloc[:300], frame.iloc[300:]
    declared = [
        {"name": "sms", "dtype": "string"},
        {"name": "label", "dtype": {"class_label": {"names": {"0": "ham", "1": "spam"}}}},
    ]
    return {
        "README.md": readme(declared, ["train", "test"]),
        "data/train-00000-of-00001.parquet": parquet(train, features),
        "data/test-00000-of-00001.parquet": parquet(test, features),
    }


def multiclass_repo() -> dict[str, bytes]:
    """Plain string labels (no ClassLabel) and a `dev` split."""
    from datasets import Features, Value

    features = Features({"text": Value("string"), "topic": Value("string")})
    frame = make_frame({"sport": 150, "money": 120, "food": 90}).rename(columns={"label": "topic"})
    parts = {"train": frame.iloc[:260], "dev": frame.iloc[260:310], "test": frame.iloc[310:]}
    declared = [{"name": "text", "dtype": "string"}, {"name": "topic", "dtype": "string"}]
    return {
        "README.md": readme(declared, list(parts)),
        **{f"data/{s}-00000-of-00001.parquet": parquet(f, features) for s, f in parts.items()},
    }


def multilabel_repo() -> dict[str, bytes]:
    """Sequence(ClassLabel) labels, train/validation/test."""
    from datasets import ClassLabel, Features, Sequence, Value

    features = Features({"text": Value("string"), "labels": Sequence(ClassLabel(names=TOPICS))})
    frame = make_multilabel_frame(360)
    frame["labels"] = frame["labels"].map(lambda names: [TOPICS.index(n) for n in names])
    parts = {"train": frame.iloc[:260], "validation": frame.iloc[260:310], "test": frame.iloc[310:]}
    declared = [
        {"name": "text", "dtype": "string"},
        {"name": "labels", "sequence": {"class_label": {"names": dict(enumerate(TOPICS))}}},
    ]
    return {
        "README.md": readme(declared, list(parts)),
        **{f"data/{s}-00000-of-00001.parquet": parquet(f, features) for s, f in parts.items()},
    }


def unsupervised_repo() -> dict[str, bytes]:
    from datasets import Features, Value

    frame = make_frame({"ham": 20, "spam": 20})
    features = Features({"text": Value("string"), "label": Value("string")})
    declared = [{"name": "text", "dtype": "string"}, {"name": "label", "dtype": "string"}]
    return {
        "README.md": readme(declared, ["unsupervised"]),
        "data/unsupervised-00000-of-00001.parquet": parquet(frame, features),
    }


@pytest.fixture(scope="module")
def hub():
    server, state, endpoint = start_hub()
    add_dataset(state, "tester/sms", binary_repo())
    add_dataset(state, "tester/topics", multiclass_repo())
    add_dataset(state, "tester/topics-ml", multilabel_repo())
    add_dataset(state, "tester/unsupervised", unsupervised_repo())
    add_dataset(state, "tester/secret", binary_repo(), private=True)
    add_dataset(state, "tester/gated", binary_repo())
    state.gated.add("tester/gated")
    yield state, endpoint
    server.shutdown()


@pytest.fixture
def hub_env(hub, monkeypatch, tmp_path):
    """HF_ENDPOINT as if it had been set before Python started (the libraries read it at import)."""
    import datasets
    import huggingface_hub.constants as hub_constants

    state, endpoint = hub
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", endpoint)
    monkeypatch.setattr(
        datasets.config, "HUB_DATASETS_URL", endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"
    )
    monkeypatch.setattr(hub_constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        hub_constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets_cache")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub_cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return state


@pytest.mark.parametrize(
    "repo,task,labels",
    [("tester/topics", "multiclass", ["food", "money", "sport"]), ("tester/topics-ml", "multilabel", TOPICS)],
)
def test_hub_dataset_trains_end_to_end(hub_env, tiny_model, tmp_path, repo, task, labels):
    run = train_run(f"hf:{repo}", tiny_args(tiny_model, tmp_path / "out") + ["num_train_epochs=2"])
    record = runs.read_record(run)
    assert record["task"] == task and record["labels"] == labels
    ds = record["dataset"]
    assert ds["hub_dataset"] == repo and ds["hub_revision"] == hub_env.datasets[repo].head
    assert ds["split"]["given"] == ["train", "validation", "test"]  # `dev` is the validation split
    evaluate.evaluate(run, threads=1)
    card_text = card.render(run, "tester/model").content
    meta = yaml.safe_load(card_text.split("---")[1])
    assert meta["datasets"] == [repo]
    result_dataset = meta["model-index"][0]["results"][0]["dataset"]
    assert result_dataset["type"] == repo and result_dataset["revision"] == hub_env.datasets[repo].head
    assert result_dataset["split"] == "test"


@pytest.mark.slow
def test_hub_dataset_with_classlabel_through_make_train(hub, tiny_model, tmp_path):
    """The real path a user takes: HF_ENDPOINT set before Python starts, `make train DATA=hf:...`."""
    state, endpoint = hub
    env = {
        **os.environ,
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_DATASETS_CACHE": str(tmp_path / "cache"),
    }
    env.pop("HF_TOKEN", None)
    sets = " ".join(tiny_args(tiny_model, tmp_path / "out")) + " num_train_epochs=2"
    done = subprocess.run(
        ["make", "--no-print-directory", "train", "DATA=hf:tester/sms", f"SET={sets}"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"Hugging Face dataset tester/sms at commit {state.datasets['tester/sms'].head}" in done.stdout
    record = runs.read_record((tmp_path / "out" / "latest").resolve())
    assert record["labels"] == ["ham", "spam"] and record["positive_label"] == "spam"  # ClassLabel names
    assert record["dataset"]["text_columns"] == ["sms"]
    assert record["dataset"]["split"]["carved"] == ["validation"]


def fetch_error(argv: list[str], capsys) -> str:
    code = run_cli(fetch.main, argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_unknown_dataset_is_one_line(hub_env, capsys):
    assert "dataset tester/nope was not found on the Hub (404)" in fetch_error(
        ["--data", "hf:tester/nope"], capsys
    )


def test_private_dataset_without_a_token(hub_env, capsys):
    err = fetch_error(["--data", "hf:tester/secret"], capsys)
    assert "tester/secret" in err and "no token: set HF_TOKEN" in err


def test_gated_dataset_without_a_token(hub_env, capsys):
    assert "dataset tester/gated is gated" in fetch_error(["--data", "hf:tester/gated"], capsys)


def test_private_dataset_with_a_token_loads(hub_env, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", hub_env.read_token)
    assert run_cli(fetch.main, ["--data", "hf:tester/secret"]) == 0
    assert "tester/secret" in capsys.readouterr().out


def test_unknown_config_lists_the_available_ones(hub_env, monkeypatch, capsys):
    monkeypatch.setenv("QUICKFIT_UNUSED", "1")
    code = run_cli(
        __import__("scripts.train", fromlist=["main"]).main,
        ["--data", "hf:tester/sms", "--set", "hf_config='nope'", "model_name=packaged-minilm"],
    )
    err = capsys.readouterr().err.strip()
    assert (
        code == 2 and "hf_config='nope' is not a config of dataset tester/sms; available: default" in err
    ), err


def test_unknown_revision(hub_env, capsys):
    from scripts.common import settings
    from scripts.common.errors import UserError
    from scripts.data import sources

    cfg = settings.resolve({"dataset": "hf:tester/sms", "hf_revision": "v9"})
    with pytest.raises(UserError, match="hf_revision='v9' is not a branch, tag or commit"):
        sources.get_source(cfg["dataset"], cfg["hf_config"], cfg["hf_revision"])


def test_no_train_split_is_one_line(hub_env, capsys):
    err = fetch_error(["--data", "hf:tester/unsupervised"], capsys)
    assert "splits ['unsupervised'] include no train split" in err


def test_columns_not_found_lists_the_columns(hub_env, tiny_model, tmp_path, capsys):
    code = run_cli(
        __import__("scripts.train", fromlist=["main"]).main,
        ["--data", "hf:tester/sms", "--set", *tiny_args(tiny_model, tmp_path / "o"), "text_column=body"],
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "text column 'body' not found" in err and "'sms'" in err and "'label'" in err, err


def test_no_network_says_whether_a_cached_copy_exists(hub_env, monkeypatch, capsys):
    import datasets
    import huggingface_hub.constants as hub_constants

    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    err = None
    for cached in (False, True):
        if cached:  # download once through the stand-in, then lose the network
            assert run_cli(fetch.main, ["--data", "hf:tester/sms"]) == 0
            capsys.readouterr()
        with monkeypatch.context() as patch:
            patch.setenv("HF_ENDPOINT", closed)
            patch.setattr(datasets.config, "HF_ENDPOINT", closed)
            patch.setattr(hub_constants, "ENDPOINT", closed)
            err = fetch_error(["--data", "hf:tester/sms"], capsys)
        assert "could not reach the Hub for dataset tester/sms" in err
        assert (
            "a cached copy exists: run with HF_HUB_OFFLINE=1" if cached else "no cached copy exists"
        ) in err


def test_offline_uses_the_cached_copy(hub_env, monkeypatch, capsys):
    import datasets

    assert run_cli(fetch.main, ["--data", "hf:tester/topics"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    hub_env.requests.clear()
    assert run_cli(fetch.main, ["--data", "hf:tester/topics"]) == 0
    out = capsys.readouterr().out
    assert "train: 260 rows" in out and not hub_env.requests  # served from the cache, nothing asked


def test_parquet_file_and_save_to_disk_folder_train_like_a_csv(tiny_model, tmp_path):
    import datasets
    from datasets import ClassLabel, Features, Sequence, Value

    frame = make_frame({"ham": 200, "spam": 100})
    path = tmp_path / "sms.parquet"
    frame.to_parquet(path)
    run = train_run(path, tiny_args(tiny_model, tmp_path / "a") + ["num_train_epochs=1"])
    assert runs.read_record(run)["labels"] == ["ham", "spam"]

    ml = make_multilabel_frame(300)
    ml["labels"] = ml["labels"].map(lambda names: [TOPICS.index(n) for n in names])
    features = Features({"text": Value("string"), "labels": Sequence(ClassLabel(names=TOPICS))})
    whole = datasets.Dataset.from_pandas(ml, features=features, preserve_index=False)
    split = whole.train_test_split(test_size=0.2, seed=0)
    split.save_to_disk(str(tmp_path / "saved"))
    run = train_run(tmp_path / "saved", tiny_args(tiny_model, tmp_path / "b") + ["num_train_epochs=1"])
    record = runs.read_record(run)
    assert record["task"] == "multilabel" and record["labels"] == TOPICS
    assert record["dataset"]["split"]["given"] == ["train", "test"] or record["dataset"]["split"][
        "carved"
    ] == ["validation"]


def glue_repo() -> dict[str, bytes]:
    """GLUE's layout for two of its tasks: mrpc (a pair, ClassLabel) and stsb (a pair, a float score), each
    with a test split whose labels are all -1 (GLUE hides them), as nyu-mll/glue serves them."""
    from datasets import ClassLabel, Features, Value

    from tests.conftest import make_pair_frame

    pairs = make_pair_frame(300).rename(columns={"question1": "sentence1", "question2": "sentence2"})
    mrpc = pairs.rename(columns={"is_duplicate": "label"}).assign(idx=range(300))
    stsb = make_pair_frame(300, seed=1, score=True).rename(
        columns={"question1": "sentence1", "question2": "sentence2", "score": "label"}
    )
    stsb = stsb.assign(idx=range(300))
    features = {
        "mrpc": Features(
            {
                "sentence1": Value("string"),
                "sentence2": Value("string"),
                "label": ClassLabel(names=["not_equivalent", "equivalent"]),
                "idx": Value("int32"),
            }
        ),
        "stsb": Features(
            {
                "sentence1": Value("string"),
                "sentence2": Value("string"),
                "label": Value("float32"),
                "idx": Value("int32"),
            }
        ),
    }
    files, configs, infos = {}, [], []
    for name, frame in (("mrpc", mrpc), ("stsb", stsb)):
        test = frame.iloc[250:].assign(label=-1)
        parts = {"train": frame.iloc[:200], "validation": frame.iloc[200:250], "test": test}
        for split, part in parts.items():
            files[f"{name}/{split}-00000-of-00001.parquet"] = parquet(part, features[name])
        configs.append(
            {
                "config_name": name,
                "data_files": [{"split": s, "path": f"{name}/{s}-*.parquet"} for s in parts],
            }
        )
        label = (
            {"name": "label", "dtype": {"class_label": {"names": {"0": "not_equivalent", "1": "equivalent"}}}}
            if name == "mrpc"
            else {"name": "label", "dtype": "float32"}
        )
        declared = [{"name": "sentence1", "dtype": "string"}, {"name": "sentence2", "dtype": "string"}, label]
        infos.append({"config_name": name, "features": [*declared, {"name": "idx", "dtype": "int32"}]})
    meta = {"license": "other", "dataset_info": infos, "configs": configs}
    files["README.md"] = f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n# GLUE (test stand-in)\n".encode()
    return files


@pytest.mark.parametrize(
    ("config", "task", "metric"), [("mrpc", "binary", "f1_positive"), ("stsb", "regression", "spearman")]
)
def test_glue_trains_with_its_official_metric_and_never_a_minus_one_class(
    hub_env, tiny_model, tmp_path, config, task, metric
):
    """DATA=hf:nyu-mll/glue hf_config=<task>: the pair found, the task's official metric chooses the epoch and
    leads the evaluation, and the test split's -1 labels are unlabelled data, left out (never a class)."""
    import json

    add_dataset(hub_env, "nyu-mll/glue", glue_repo())
    args = tiny_args(tiny_model, tmp_path / "out") + [f"hf_config={config}", "num_train_epochs=2"]
    run = train_run("hf:nyu-mll/glue", args)
    record = json.loads((run / "run.json").read_text())
    assert (record["task"], record["text_pair"], record["selection_metric"]) == (task, True, metric)
    assert record["dataset"]["split"]["carved"] == ["test"]  # GLUE's test split: unlabelled, left out
    assert any("test" in s for s in record["dataset"].get("splits_left_out", []))
    if task == "binary":
        assert (
            record["labels"] == ["equivalent", "not_equivalent"] and record["positive_label"] == "equivalent"
        )
    report = evaluate.evaluate(run, threads=1)
    assert report["lead_metric"] == metric and report["paired_bootstrap"]["metric"] == metric
