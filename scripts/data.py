"""Any CSV/TSV/JSON -> a clean frame with `text` and `labels`, the label names and the task.

Canonical frame: `text` (str) and `labels`: the label name (single-label) or a tuple of names
(multi-label). Everything later encodes from the label names saved with the run.
"""
from __future__ import annotations

import ast
import codecs
import csv
import difflib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from scripts.errors import UserError
from scripts.sources import Source

TEXT_NAMES = ("text", "sentence", "message", "v2", "review", "comment_text", "comment", "content", "body",
              "tweet", "document", "sms", "title")
LABEL_NAMES = ("label", "labels", "class", "category", "target", "v1", "sentiment", "y", "emotion", "topic")
MULTI_TEXT_JOIN = "\n"


@dataclass
class Dataset:
    """A cleaned dataset: frames by split ("all" or train/validation/test), label names, task."""
    frames: dict[str, pd.DataFrame]
    label_names: list[str]
    task: str
    positive_label: str | None
    report: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- reading files

def _decode(raw: bytes, encoding: str, path: Path) -> tuple[str, str]:
    if encoding != "auto":
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise UserError(f"{path.name} cannot be read as {encoding}: {exc.__class__.__name__}; "
                            "set encoding=auto or the file's real encoding") from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        pass
    mixed = decode_mixed(raw)
    if mixed is not None:
        return mixed
    for candidate in ("cp1252", "latin-1"):
        try:
            return raw.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def _legacy(line: bytes) -> str:
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _legacy_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    return _legacy(error.object[error.start:error.end]), error.end


# An error handler for streamed reads: bytes that are not valid UTF-8 are read as cp1252 (or latin-1).
LEGACY_FALLBACK = "quickfit-legacy"
codecs.register_error(LEGACY_FALLBACK, _legacy_fallback)


def decode_mixed(raw: bytes) -> tuple[str, str] | None:
    """A file whose lines are partly UTF-8 and partly cp1252 (pasted together from two exports): each line
    is decoded as what it is, and the count is reported. None when no line is UTF-8 beyond ASCII (then the
    whole file is one legacy encoding)."""
    lines = raw.split(b"\n")
    utf8 = legacy = 0
    decoded = []
    for line in lines:
        try:
            text = line.decode("utf-8")
            utf8 += not line.isascii()
        except UnicodeDecodeError:
            text, legacy = _legacy(line), legacy + 1
        decoded.append(text)
    if not utf8:
        return None
    return "\n".join(decoded).lstrip("\ufeff"), f"utf-8 with {legacy} cp1252 lines"


def _sniff_separator(text: str, path: Path) -> str:
    """The candidate that splits the first rows into the same number (>1) of fields most consistently."""
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    sample = "\n".join(text[:100_000].splitlines()[:200][:-1] or text.splitlines()[:1])
    best, best_score = ",", 0.0
    for sep in (",", "\t", ";", "|"):
        counts = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=sep) if row]
        if not counts:
            continue
        fields, hits = Counter(counts).most_common(1)[0]
        score = hits / len(counts) if fields > 1 else 0.0
        if score > best_score:
            best, best_score = sep, score
    return best


def _plain_tsv_quoting(text: str, sep: str, quoting: int) -> int:
    """A TSV whose every line has the same number of tabs has no quoted fields: read quotes as text
    (the SMS and GoEmotions files have messages that start with a quote character)."""
    if sep != "\t" or quoting != csv.QUOTE_MINIMAL:
        return quoting
    counts = {line.count("\t") for line in text.splitlines() if line.strip()}
    return csv.QUOTE_NONE if len(counts) == 1 and counts.pop() >= 1 else quoting


def _check_header(first_row: list[Any], column_names: list[str] | None, path: Path) -> None:
    """Two columns with one name, or fewer column_names than fields: say so, instead of a silent pick."""
    if column_names:
        if len(first_row) > len(column_names):
            raise UserError(f"column_names has {len(column_names)} name(s) but the rows of {path.name} have "
                            f"{len(first_row)} fields; give one name per column, e.g. {['label', 'text'][:len(first_row)]}")
        return
    names = [str(n).strip() for n in first_row if str(n).strip()]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"{path.name} has columns named twice in its header ({', '.join(map(repr, twice))}); "
                        "rename them so each column has its own name")


def _parse_error(exc: Exception, path: Path, sep: str) -> UserError:
    """The parser's complaint in the user's terms: which line, and what is wrong with it."""
    message = str(exc).splitlines()[0]
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        expected, line, saw = fields.groups()
        return UserError(f"{path.name} line {line} has {saw} fields where the header has {expected}: a text with an "
                         f"unquoted {sep!r} in it? Quote that text (\"...\") or fix the line")
    quote = re.search(r"EOF inside string starting at row (\d+)|unexpected end of data", message)
    if quote:
        where = f" starting near line {int(quote.group(1)) + 1}" if quote.group(1) else ""
        return UserError(f"{path.name} has an unclosed quote{where}: a text opens a \" and never closes it; "
                         "close the quote or remove it")
    return UserError(f"{path.name} could not be parsed with separator {sep!r}: {message}; "
                     "set separator to the file's real one")


def read_table(path: Path, separator: str = "auto", encoding: str = "auto",
               column_names: list[str] | None = None, quoting: int = csv.QUOTE_MINIMAL,
               skip_rows: list[int] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a CSV/TSV/JSON(L) file as strings; empty cells become NaN. Returns the frame and what was detected."""
    raw = path.read_bytes()
    if not raw.strip():
        raise UserError(f"{path.name} is empty; give a file with a header row and data rows")
    if b"\x00" in raw[:8192]:
        raise UserError(f"{path.name} is a binary file, not a text table; export it as CSV (UTF-8) first")
    text, used_encoding = _decode(raw, encoding, path)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        try:
            frame = pd.read_json(io.StringIO(text), lines=suffix == ".jsonl" or text.lstrip().startswith("{") and "\n{" in text,
                                 dtype=False)
        except ValueError as exc:
            raise UserError(f"{path.name} is not valid JSON records: {str(exc).splitlines()[0]}; "
                            "give a list of objects or one object per line") from exc
        frame = frame.astype(object).where(frame.notna(), None)
        detected = {"encoding": used_encoding, "separator": "json"}
    else:
        sep = _sniff_separator(text, path) if separator == "auto" else separator
        quoting = _plain_tsv_quoting(text, sep, quoting)
        options = dict(sep=sep, dtype=str, quoting=quoting, skiprows=skip_rows,
                       engine="python" if len(sep) > 1 else "c")
        try:
            first = pd.read_csv(io.StringIO(text), header=None, nrows=1, keep_default_na=False, **options)
            _check_header(first.iloc[0].tolist(), column_names, path)
            frame = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""],
                                header=None if column_names else "infer", names=column_names or None,
                                index_col=False, **options)
        except (pd.errors.ParserError, csv.Error) as exc:
            raise _parse_error(exc, path, sep) from exc
        detected = {"encoding": used_encoding, "separator": sep, "quoting": quoting}
    # Kaggle exports often carry trailing empty columns (`v1,v2,,,`): drop columns with no values.
    empty = [c for c in frame.columns if str(c).startswith("Unnamed") and frame[c].isna().all()]
    frame = frame.drop(columns=empty)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise UserError(f"{path.name} has a header but no data rows; add rows of text and label")
    return frame, detected


# ---------------------------------------------------------------- columns

def _missing_column(name: str, columns: list[str], role: str) -> UserError:
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.5) or \
        [c for c in columns if c.lower() == name.lower()]
    hint = f"did you mean {close[0]!r}? " if close else ""
    return UserError(f"{role} column {name!r} not found: {hint}columns are {', '.join(map(repr, columns))}; "
                     f"set {role}_column=...")


def _guess(columns: list[str], names: tuple[str, ...], exclude: set[str]) -> str | None:
    lower = {c.lower(): c for c in columns if c not in exclude}
    return next((lower[n] for n in names if n in lower), None)


def choose_columns(frame: pd.DataFrame, text_column: Any, label_column: Any) -> tuple[list[str], list[str]]:
    """Resolve text and label columns ("auto" = guessed by name, then by shape)."""
    columns = list(frame.columns)
    if len(columns) < 2:
        raise UserError(f"only one column ({columns[0]!r}) found: a training file needs a text column and a label "
                        "column; if the file has more, the separator is probably wrong: set separator=... "
                        "(e.g. separator=';')")
    labels = label_column if isinstance(label_column, list) else [label_column]
    texts = text_column if isinstance(text_column, list) else [text_column]
    if texts == ["auto"]:
        guess = _guess(columns, TEXT_NAMES, set(labels))
        if guess is None:  # the column with the longest strings
            lengths = {c: frame[c].dropna().astype(str).str.len().mean() for c in columns if c not in labels}
            guess = max(lengths, key=lambda c: lengths[c] if lengths[c] == lengths[c] else -1)
        texts = [guess]
    if labels == ["auto"]:
        guess = _guess(columns, LABEL_NAMES, set(texts))
        if guess is None:  # the column with the fewest distinct values
            others = [c for c in columns if c not in texts]
            guess = min(others, key=lambda c: frame[c].nunique())
        labels = [guess]
    for name in texts:
        if name not in columns:
            raise _missing_column(name, columns, "text")
    for name in labels:
        if name not in columns:
            raise _missing_column(name, columns, "label")
    if set(texts) & set(labels):
        raise UserError(f"the same column is used for text and label ({sorted(set(texts) & set(labels))}); "
                        "set text_column and label_column")
    return texts, labels


def join_text(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The text of each row: one column, or several joined with newlines; "" where there is none."""
    def clean(value: Any) -> str:
        return "" if value is None or value != value else str(value).strip()
    if len(columns) == 1:
        return frame[columns[0]].map(clean)
    return frame[columns].apply(lambda row: MULTI_TEXT_JOIN.join(t for t in map(clean, row) if t), axis=1)


# ---------------------------------------------------------------- labels

# Label cells that mean "no label": spreadsheet and pandas spellings of a missing or non-finite value.
MISSING_LABELS = {"nan", "none", "null", "na", "n/a", "<na>", "nat", "inf", "-inf", "+inf", "infinity",
                  "-infinity", "+infinity"}


def _is_missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return True
    return str(value).strip().lower() in MISSING_LABELS or not str(value).strip()


def _is_number(value: str) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except ValueError:
        return False


def _canonical_number(value: str) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def _split_multi(value: Any, delimiter: str) -> tuple[str, ...] | None:
    if not isinstance(value, (list, tuple)) and _is_missing(value):
        return None
    if isinstance(value, (list, tuple)):
        items = value
    else:
        text = str(value).strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                items = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                items = text[1:-1].split(",")
        else:
            items = text.split(delimiter)
    cleaned = tuple(sorted({str(i).strip().strip("'\"") for i in items
                            if not _is_missing(str(i).strip().strip("'\""))}))
    return cleaned or None


def _looks_multilabel(series: pd.Series, delimiter: str) -> bool:
    if series.dropna().map(lambda v: isinstance(v, (list, tuple))).any():  # a list column (Parquet/Arrow)
        return True
    values = series.dropna().astype(str).str.strip()
    return bool(values.str.startswith("[").any() or values.str.contains(delimiter, regex=False).any())


def _onehot_labels(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    matrix = {}
    for col in columns:
        raw = frame[col].astype(str).str.strip().str.lower()
        mapped = raw.map({"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0, "nan": np.nan, "none": np.nan})
        bad = sorted(set(raw[mapped.isna() & frame[col].notna()]))
        if bad:
            raise UserError(f"one-hot label column {col!r} holds values other than 0/1 (e.g. {bad[:3]}); "
                            "fix those cells or use one label column with label names")
        matrix[col] = mapped
    onehot = pd.DataFrame(matrix)
    names = onehot.apply(lambda row: None if row.isna().any() else tuple(c for c in columns if row[c] == 1), axis=1)
    return names


def _single_labels(series: pd.Series) -> pd.Series:
    values = series.astype(object).where(series.notna(), None)
    values = values.map(lambda v: None if _is_missing(v) else str(v).strip())
    present = values.dropna()
    numeric = present.map(_is_number)
    if numeric.any() and not numeric.all():
        words = sorted(set(present[~numeric]))[:3]
        numbers = sorted(set(present[numeric]))[:3]
        raise UserError(f"the label column mixes numbers {numbers} and words {words}; "
                        "make every label the same kind (fix or drop those rows)")
    if numeric.all() and len(present):
        values = values.map(lambda v: None if _is_missing(v) else _canonical_number(v))
    return values


def _sort_labels(names: set[str]) -> list[str]:
    if names and all(_is_number(n) for n in names):
        return sorted(names, key=float)
    return sorted(names)


# ---------------------------------------------------------------- cleaning

def _clean(frame: pd.DataFrame, report: dict[str, Any]) -> pd.DataFrame:
    """Drop empty texts and missing labels, then exact duplicate texts (conflicting ones entirely)."""
    n_read = len(frame)
    frame = frame.assign(text=frame["text"].map(lambda t: "" if t is None or t != t else str(t).strip()))
    empty_text = frame["text"] == ""
    missing_label = frame["labels"].isna()
    frame = frame[~empty_text & ~missing_label]
    groups = frame.groupby("text", sort=False)["labels"].nunique()
    conflicting = set(groups[groups > 1].index)
    n_conflict_rows = int(frame["text"].isin(conflicting).sum())
    frame = frame[~frame["text"].isin(conflicting)]
    deduped = frame.drop_duplicates("text", keep="first")
    report.update(rows_read=n_read, dropped_empty_text=int(empty_text.sum()),
                  dropped_missing_label=int((missing_label & ~empty_text).sum()),
                  dropped_duplicates=len(frame) - len(deduped),
                  dropped_conflicting=n_conflict_rows, conflicting_texts=len(conflicting))
    return deduped.reset_index(drop=True)


def detect_task(labels: pd.Series, requested: str) -> str:
    multi = labels.dropna().map(lambda v: isinstance(v, tuple)).all()
    if requested != "auto":
        return requested
    if multi:
        return "multilabel"
    return "binary" if labels.nunique() == 2 else "multiclass"


def load_dataset(source: Source, config: Mapping[str, Any]) -> Dataset:
    """Read every file of the source, resolve columns and labels, clean, detect the task."""
    read = dict(source.read)
    cols = {k: (source.columns.get(k, v) if v == "auto" else v)
            for k, v in (("text_column", config["text_column"]), ("label_column", config["label_column"]),
                         ("task", config["task"]), ("positive_label", config["positive_label"]))}
    if config["separator"] != "auto":
        read["separator"] = config["separator"]
    if config["column_names"]:
        read["column_names"] = config["column_names"]
    report: dict[str, Any] = {"source": source.name, "files": {k: str(v) for k, v in source.files.items()}}
    delimiter = config["label_delimiter"]
    task = cols["task"]

    raw_frames = {}
    if source.frames is not None:  # a Hugging Face dataset, Parquet or Arrow: typed columns, no parsing
        raw_frames = {split: frame.astype(object).where(frame.notna(), None) for split, frame in source.frames.items()}
        report["detected"] = {"encoding": "arrow", "separator": "none (Parquet/Arrow columns)"}
        if read.get("left_out"):
            report["splits_left_out"] = list(read["left_out"])
    for split, path in ({} if source.frames is not None else source.files).items():
        frame, detected = read_table(path, read.get("separator", "auto"), config["encoding"],
                                     read.get("column_names"), read.get("quoting", csv.QUOTE_MINIMAL),
                                     read.get("skip_rows"))
        report.setdefault("detected", detected)
        raw_frames[split] = frame
    first = next(iter(raw_frames.values()))
    texts, label_cols = choose_columns(first, cols["text_column"], cols["label_column"])
    if len(label_cols) > 1 and task not in ("auto", "multilabel"):
        raise UserError(f"several label columns {label_cols} mean multi-label, but task={task}; set task=multilabel")

    frames = {}
    for split, frame in raw_frames.items():
        missing = [c for c in texts + label_cols if c not in frame.columns]
        if missing:
            raise _missing_column(missing[0], list(frame.columns), "text" if missing[0] in texts else "label")
        joined = join_text(frame, texts)
        if len(label_cols) > 1:
            labels = _onehot_labels(frame, label_cols)
        elif task == "multilabel" or (task == "auto" and _looks_multilabel(frame[label_cols[0]], delimiter)):
            labels = frame[label_cols[0]].map(lambda v: _split_multi(v, delimiter))
        else:
            column = frame[label_cols[0]].dropna().astype(str).str.strip()
            if (column.str.startswith("[") & column.str.endswith("]")).any():
                raise UserError(f"task={task} but label column {label_cols[0]!r} holds lists like {column.iloc[0]!r}; "
                                "set task=multilabel (or auto)")
            labels = _single_labels(frame[label_cols[0]])
        frames[split] = pd.DataFrame({"text": joined.values, "labels": labels.values})
    if source.label_names:  # ids -> names (GoEmotions ships ids and a names file)
        names = source.label_names
        for split, frame in frames.items():
            frames[split] = frame.assign(labels=frame["labels"].map(
                lambda v: None if v is None else tuple(sorted(names[int(i)] for i in v))))

    cleaned = {}
    for split, frame in frames.items():
        split_report: dict[str, Any] = {}
        cleaned[split] = _clean(frame, split_report)
        report.setdefault("cleaning", {})[split] = split_report
    train_key = "all" if "all" in cleaned else "train"
    train = cleaned[train_key]
    if train.empty:
        c = report["cleaning"][train_key]
        raise UserError(f"no usable rows: of {c['rows_read']}, {c['dropped_empty_text']} have an empty text, "
                        f"{c['dropped_missing_label']} no label and {c['dropped_conflicting']} conflicting labels for the "
                        "same text; check text_column and label_column, or fix the file")
    all_labels = pd.concat([f["labels"] for f in cleaned.values()])
    task = detect_task(all_labels, task)
    if task == "multilabel":
        all_labels = all_labels.map(lambda v: v if isinstance(v, tuple) else (v,))
        for split in cleaned:
            cleaned[split]["labels"] = cleaned[split]["labels"].map(lambda v: v if isinstance(v, tuple) else (v,))
        names = source.label_names or (label_cols if len(label_cols) > 1 else
                                       _sort_labels({n for tup in all_labels for n in tup}))
        if sum(len(v) for v in train["labels"]) == 0:
            raise UserError("no training row carries any label; check label_column and label_delimiter")
    else:
        if all_labels.map(lambda v: isinstance(v, tuple)).any():
            raise UserError(f"task={task} but the labels look multi-label (lists or {delimiter!r}-delimited); "
                            "set task=multilabel or fix label_delimiter")
        names = _sort_labels(set(all_labels))
        if len(set(train["labels"])) < 2:
            raise UserError(f"only one class ({train['labels'].iloc[0]!r}) in the data: a classifier needs at least two; "
                            "check label_column or add examples of the other classes")
        if task == "binary" and len(names) != 2:
            raise UserError(f"task=binary but {len(names)} classes were found ({', '.join(names[:5])}...); "
                            "set task=multiclass or auto")
    unseen = set()
    train_names = {n for v in train["labels"] for n in (v if isinstance(v, tuple) else (v,))}
    for split, frame in cleaned.items():
        if split != train_key:
            unseen |= {n for v in frame["labels"] for n in (v if isinstance(v, tuple) else (v,))} - train_names
    if unseen and task != "multilabel":
        raise UserError(f"labels {sorted(unseen)} appear in the evaluation files but never in training; "
                        "add training examples or drop those rows")
    positive = None
    if task == "binary":
        counts = train["labels"].value_counts()
        wanted = cols["positive_label"]
        if wanted == "auto":
            positive = str(counts.idxmin())
        elif str(wanted) not in names:
            raise UserError(f"positive_label={wanted!r} is not a label; labels are {names}")
        else:
            positive = str(wanted)
    report.update(task=task, text_columns=texts, label_columns=label_cols, n_labels=len(names))
    return Dataset(frames=cleaned, label_names=list(names), task=task, positive_label=positive, report=report)


# ---------------------------------------------------------------- encoding and storage

def encode_labels(labels: pd.Series, label_names: list[str], task: str) -> list:
    """Label names -> ids (single-label) or multi-hot lists (multi-label)."""
    index = {name: i for i, name in enumerate(label_names)}
    if task == "multilabel":
        return [[1 if name in set(v) else 0 for name in label_names] for v in labels]
    return [index[v] for v in labels]


def label_counts(frame: pd.DataFrame, task: str) -> dict[str, int]:
    if task == "multilabel":
        counts: dict[str, int] = {}
        for v in frame["labels"]:
            for name in v:
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    return {str(k): int(v) for k, v in frame["labels"].value_counts().items()}


def save_split(frame: pd.DataFrame, path: Path) -> None:
    """Store a split as text + labels (multi-label as a JSON list) so every later stage reads the same rows."""
    out = frame[["text", "labels"]].copy()
    out["labels"] = out["labels"].map(lambda v: json.dumps(list(v)) if isinstance(v, tuple) else v)
    out.to_csv(path, index=False)


def load_split(path: Path, task: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if task == "multilabel":
        frame["labels"] = frame["labels"].map(lambda v: tuple(json.loads(v)))
    return frame
