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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from scripts.common.errors import UserError
from scripts.data.encodings import LEGACY_FALLBACK, _unreadable, _wide_encoding, decode

__all__ = ["LEGACY_FALLBACK", "decode", "read_table"]


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


def _plain_tsv_quoting(lines: Iterable[str], sep: str, quoting: int) -> int:
    """A TSV whose every line has the same number of tabs has no quoted fields: read quotes as text
    (the SMS and GoEmotions files have messages that start with a quote character)."""
    if sep != "\t" or quoting != csv.QUOTE_MINIMAL:
        return quoting
    counts: set[int] = set()
    for line in lines:
        if line.strip():
            counts.add(line.count("\t"))
            if len(counts) > 1:
                return quoting
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


BLOCK = 1 << 24  # bytes read at a time when a file is checked without holding it whole


def _streamable_encoding(path: Path, encoding: str) -> str | None:
    """The encoding the whole file decodes with, checked block by block without holding the file: the
    given one, or UTF-8 (with or without a byte-order mark) for `auto`. None when `auto` finds bytes that
    are not UTF-8: such files are decoded in memory (line by line when lines mix encodings)."""
    name = "utf-8-sig" if encoding == "auto" else encoding
    try:
        decoder = codecs.getincrementaldecoder(name)()
    except LookupError as exc:
        raise _unreadable(path, encoding, exc) from exc
    try:
        with path.open("rb") as handle:
            while block := handle.read(BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        if encoding == "auto":
            return None
        raise _unreadable(path, encoding, exc) from exc
    return name


def _head(path: Path, encoding: str, chars: int = 100_000) -> str:
    with path.open(encoding=encoding, newline="") as handle:
        return handle.read(chars)


def read_table(
    path: Path,
    separator: str = "auto",
    encoding: str = "auto",
    column_names: list[str] | None = None,
    quoting: int = csv.QUOTE_MINIMAL,
    skip_rows: list[int] | None = None,
    keep_blank_lines: bool = False,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a CSV/TSV/JSON(L) file as strings; empty cells become NaN. Returns the frame and what was
    detected. A CSV/TSV file that decodes with one encoding is parsed straight from disk (never held
    whole in memory); JSON and files mixing encodings are decoded in memory first. keep_blank_lines: a
    blank or whitespace-only line is a row (prediction keeps every row of its input), not skipped."""
    with path.open("rb") as handle:
        start = handle.read(BLOCK)
    if not start.strip() and path.stat().st_size <= BLOCK:
        raise UserError(f"{path.name} is empty; give a file with a header row and data rows")
    encoding = _wide_encoding(start, encoding)
    if b"\x00" in start[:8192] and not encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32")):
        raise UserError(f"{path.name} is a binary file, not a text table; export it as CSV (UTF-8) first")
    suffix = path.suffix.lower()
    streamed = None if suffix in (".json", ".jsonl") else _streamable_encoding(path, encoding)
    if streamed is not None:
        head = _head(path, streamed)
        sep = _sniff_separator(head, path) if separator == "auto" else separator
        with path.open(encoding=streamed, newline="") as lines:
            quoting = _plain_tsv_quoting(lines, sep, quoting)
        frame = _parse_delimited(
            path, path, sep, quoting, column_names, skip_rows, streamed, keep_blank_lines
        )
        detected = {"encoding": streamed, "separator": sep, "quoting": quoting}
        return _tidy(frame, path), detected
    text, used_encoding = decode(path.read_bytes(), encoding, path)
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
        quoting = _plain_tsv_quoting(text.splitlines(), sep, quoting)
        frame = _parse_delimited(
            io.StringIO(text), path, sep, quoting, column_names, skip_rows, None, keep_blank_lines
        )
        detected = {"encoding": used_encoding, "separator": sep, "quoting": quoting}
    return _tidy(frame, path), detected


def _parse_delimited(
    source: Any,
    path: Path,
    sep: str,
    quoting: int,
    column_names: list[str] | None,
    skip_rows: list[int] | None,
    encoding: str | None,
    keep_blank_lines: bool = False,
) -> pd.DataFrame:
    """pandas' parser over a file (streamed by pandas in blocks) or an in-memory text."""
    options: dict[str, Any] = dict(
        sep=sep,
        dtype=str,
        quoting=quoting,
        skiprows=skip_rows,
        engine="python" if len(sep) > 1 else "c",
        skip_blank_lines=not keep_blank_lines,
    )
    if encoding is not None:
        options["encoding"] = encoding
    try:
        first = pd.read_csv(source, header=None, nrows=1, keep_default_na=False, **options)
        _check_header(first.iloc[0].tolist(), column_names, path)
        if hasattr(source, "seek"):
            source.seek(0)
        return pd.read_csv(
            source,
            keep_default_na=False,
            na_values=[""],
            header=None if column_names else "infer",
            names=column_names or None,
            index_col=False,
            **options,
        )
    except pd.errors.EmptyDataError as exc:
        raise UserError(f"{path.name} is empty; give a file with a header row and data rows") from exc
    except (pd.errors.ParserError, csv.Error) as exc:
        raise _parse_error(exc, path, sep) from exc


def _tidy(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    # Kaggle exports often carry trailing empty columns (`v1,v2,,,`): drop columns with no values.
    empty = [c for c in frame.columns if str(c).startswith("Unnamed") and frame[c].isna().all()]
    frame = frame.drop(columns=empty)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise UserError(f"{path.name} has a header but no data rows; add rows of text and label")
    return frame
