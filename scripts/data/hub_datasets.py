"""Hugging Face Datasets as a source: `hf:owner/name` on the Hub, a local Parquet file, a save_to_disk folder.

Each becomes plain frames by split, as a CSV would, so dataset.py guesses columns and cleans rows the same
way. `ClassLabel` ids become their names, `Sequence(ClassLabel)` and list columns become label lists
(multi-label), plain string or integer columns stay as they are. A split called dev/valid/val is the
validation split; splits that are none of train/validation/test (e.g. `unsupervised`) are left out.
The Hub is asked for the dataset's commit first, and the data is loaded at that commit, so run.json
and the card name exactly what was trained on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from scripts.common import hub_errors
from scripts.common.errors import UserError

PREFIX = "hf:"
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
    # MNLI: the matched validation split chooses the epoch, the mismatched one scores the model (its test
    # splits are unlabelled)
    "validation_matched": "validation",
    "validation_mismatched": "test",
}


@dataclass
class HubDataset:
    frames: dict[str, pd.DataFrame]
    repo_id: str | None = None
    config: str | None = None
    revision: str | None = None  # the resolved commit
    left_out: tuple[str, ...] = ()  # splits that are not train/validation/test


def is_arrow_folder(path: Path) -> bool:
    """A folder written by Dataset(Dict).save_to_disk."""
    return path.is_dir() and any(
        (path / name).exists() for name in ("dataset_dict.json", "dataset_info.json", "state.json")
    )


def _column_to_python(values: pd.Series, feature: Any) -> pd.Series:
    """ClassLabel ids -> names (-1, "no label", -> missing); sequences -> tuples; others unchanged."""
    from datasets import ClassLabel, Sequence

    def name(i: Any) -> Any:
        return None if i is None or int(i) < 0 else feature.names[int(i)]

    if isinstance(feature, ClassLabel):
        return values.map(name)
    inner = (
        getattr(feature, "feature", None)
        if isinstance(feature, Sequence)
        else (feature[0] if isinstance(feature, list) and feature else None)
    )
    if isinstance(inner, ClassLabel):
        return values.map(lambda row: None if row is None else tuple(inner.names[int(i)] for i in row))
    if inner is not None or isinstance(feature, (Sequence, list)):
        # nested values stay as they are, so the column is refused with its type, never read as a repr
        return values.map(
            lambda row: (
                None
                if row is None
                else tuple(v if hasattr(v, "__len__") and not isinstance(v, str) else str(v) for v in row)
            )
        )
    return values


def to_frames(splits: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], tuple[str, ...]]:
    """{split name: datasets.Dataset} -> {train/validation/test: DataFrame}, and the splits left out."""
    frames, left_out = {}, []
    for given, dataset in splits.items():
        canonical = SPLIT_NAMES.get(given.lower())
        if canonical is None:
            left_out.append(given)
            continue
        if canonical in frames:
            raise UserError(f"two splits mean {canonical} ({given!r} and another); keep one of them")
        frame = dataset.to_pandas()
        for column, feature in dataset.features.items():
            frame[column] = _column_to_python(frame[column], feature)
        frames[canonical] = frame
    if "train" not in frames:
        raise UserError(
            f"the dataset's splits {sorted(splits)} include no train split (train, training); "
            "quickfit trains on the train split and carves validation/test from it when missing"
        )
    return frames, tuple(left_out)


def load_local(path: Path) -> HubDataset:
    """A .parquet file (one split, `all`) or a save_to_disk folder (a Dataset or a DatasetDict)."""
    import datasets

    datasets.disable_progress_bars()
    try:
        if path.is_dir():
            loaded = datasets.load_from_disk(str(path))
        else:
            loaded = datasets.Dataset.from_parquet(str(path))
    except Exception as exc:  # pyarrow and datasets raise many types for a damaged file
        raise UserError(
            f"{path.name} could not be read as {'a save_to_disk folder' if path.is_dir() else 'Parquet'} "
            f"({str(exc).splitlines()[0][:160]}); check the file"
        ) from exc
    if isinstance(loaded, datasets.DatasetDict):
        frames, left_out = to_frames(dict(loaded))
        return HubDataset(frames=frames, left_out=left_out)
    frame = to_frames({"train": loaded})[0]["train"]
    return HubDataset(frames={"all": frame})


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or None  # None: huggingface_hub falls back to the stored login


def _cached(repo_id: str) -> bool:
    import datasets

    return (Path(datasets.config.HF_DATASETS_CACHE) / repo_id.replace("/", "___")).exists()


def hub_error(exc: Exception, repo_id: str, revision: str | None) -> UserError:
    return hub_errors.hub_error(
        exc,
        f"dataset {repo_id}",
        "check the id (owner/name) and its files",
        revision_key="hf_revision",
        revision=revision,
        cached=_cached(repo_id),
    )


def load_hub(repo_id: str, config: str | None, revision: str | None, offline: bool) -> HubDataset:
    """`datasets.load_dataset` at the dataset's resolved commit (asked first, so every error is one line)."""
    import datasets
    from huggingface_hub import HfApi

    datasets.disable_progress_bars()
    sha = None
    if not offline:
        try:
            info = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=_token()).dataset_info(
                repo_id, revision=revision
            )
            sha = info.sha
        except Exception as exc:
            raise hub_error(exc, repo_id, revision) from exc
    try:
        loaded = datasets.load_dataset(repo_id, config, revision=sha or revision, token=_token())
    except ValueError as exc:
        if "BuilderConfig" in str(exc) or "config" in str(exc).lower():
            raise UserError(
                f"hf_config={config!r} is not a config of dataset {repo_id}; available: "
                f"{_configs(repo_id, sha or revision)}"
            ) from exc
        raise UserError(f"dataset {repo_id} could not be loaded: {str(exc).splitlines()[0][:200]}") from exc
    except Exception as exc:  # network, cache and HTTP errors of several libraries
        raise hub_error(exc, repo_id, revision) from exc
    if not isinstance(loaded, datasets.DatasetDict):
        loaded = datasets.DatasetDict({"train": loaded})
    frames, left_out = to_frames(dict(loaded))
    return HubDataset(
        frames=frames,
        repo_id=repo_id,
        config=config,
        left_out=left_out,
        revision=sha or revision or "offline cache (commit not checked)",
    )


def _configs(repo_id: str, revision: str | None) -> str:
    import datasets

    try:
        return ", ".join(datasets.get_dataset_config_names(repo_id, revision=revision, token=_token()))
    except Exception:  # the listing is a courtesy; the error line stands without it
        return "see the dataset's page"
