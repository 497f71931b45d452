"""Reading a text table: CSV/TSV/JSON(L) bytes -> a frame of strings, with what was detected.

Separator and encoding are detected (a file mixing UTF-8 and cp1252 lines is decoded line by line), and
what goes wrong is said in the user's terms: which line, and what is wrong with it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from scripts.errors import UserError


def decode(raw: bytes, encoding: str, path: Path) -> tuple[str, str]:
    if encoding != "auto":
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise UserError(
                f"{path.name} cannot be read as {encoding}: {exc.__class__.__name__}; "
                "set encoding=auto or the file's real encoding"
            ) from exc
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
    return _legacy(error.object[error.start : error.end]), error.end


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
            raise UserError(
                f"column_names has {len(column_names)} name(s) but the rows of {path.name} have "
                f"{len(first_row)} fields; give one name per column, e.g. "
                f"{['label', 'text'][: len(first_row)]}"
            )
        return
    names = [str(n).strip() for n in first_row if str(n).strip()]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(
            f"{path.name} has columns named twice in its header ({', '.join(map(repr, twice))}); "
            "rename them so each column has its own name"
        )


def _parse_error(exc: Exception, path: Path, sep: str) -> UserError:
    """The parser's complaint in the user's terms: which line, and what is wrong with it."""
    message = str(exc).splitlines()[0]
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        expected, line, saw = fields.groups()
        return UserError(
            f"{path.name} line {line} has {saw} fields where the header has {expected}: a text with an "
            f'unquoted {sep!r} in it? Quote that text ("...") or fix the line'
        )
    quote = re.search(r"EOF inside string starting at row (\d+)|unexpected end of data", message)
    if quote:
        where = f" starting near line {int(quote.group(1)) + 1}" if quote.group(1) else ""
        return UserError(
            f'{path.name} has an unclosed quote{where}: a text opens a " and never closes it; '
            "close the quote or remove it"
        )
    return UserError(
        f"{path.name} could not be parsed with separator {sep!r}: {message}; "
        "set separator to the file's real one"
    )


def read_table(
    path: Path,
    separator: str = "auto",
    encoding: str = "auto",
    column_names: list[str] | None = None,
    quoting: int = csv.QUOTE_MINIMAL,
    skip_rows: list[int] | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a CSV/TSV/JSON(L) file as strings; empty cells become NaN. Returns the frame and what was
    detected."""
    raw = path.read_bytes()
    if not raw.strip():
        raise UserError(f"{path.name} is empty; give a file with a header row and data rows")
    if b"\x00" in raw[:8192]:
        raise UserError(f"{path.name} is a binary file, not a text table; export it as CSV (UTF-8) first")
    text, used_encoding = decode(raw, encoding, path)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        try:
            frame = pd.read_json(
                io.StringIO(text),
                lines=suffix == ".jsonl" or text.lstrip().startswith("{") and "\n{" in text,
                dtype=False,
            )
        except ValueError as exc:
            raise UserError(
                f"{path.name} is not valid JSON records: {str(exc).splitlines()[0]}; "
                "give a list of objects or one object per line"
            ) from exc
        frame = frame.astype(object).where(frame.notna(), None)
        detected = {"encoding": used_encoding, "separator": "json"}
    else:
        sep = _sniff_separator(text, path) if separator == "auto" else separator
        quoting = _plain_tsv_quoting(text, sep, quoting)
        options = dict(
            sep=sep, dtype=str, quoting=quoting, skiprows=skip_rows, engine="python" if len(sep) > 1 else "c"
        )
        try:
            first = pd.read_csv(io.StringIO(text), header=None, nrows=1, keep_default_na=False, **options)
            _check_header(first.iloc[0].tolist(), column_names, path)
            frame = pd.read_csv(
                io.StringIO(text),
                keep_default_na=False,
                na_values=[""],
                header=None if column_names else "infer",
                names=column_names or None,
                index_col=False,
                **options,
            )
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
