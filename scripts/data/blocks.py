"""A file to predict, read in blocks of CHUNK_ROWS rows: at once when small, streamed when large (CSV, TSV,
JSON Lines), a damaged line one clear error; and SHARD=i/N's share of those blocks."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from scripts.common.errors import UserError
from scripts.data import readers

CHUNK_ROWS = 2000
SAMPLE_BYTES = 8 << 20  # files up to this size are read at once; larger ones stream


def checked(chunks: Iterator[pd.DataFrame], name: str) -> Iterator[pd.DataFrame]:
    """A damaged line deep in a streamed file is one line naming the problem, never a traceback."""
    try:
        yield from chunks
    except (ValueError, pd.errors.ParserError) as exc:  # pandas' parse errors name the line where it can
        raise UserError(
            f"{name} cannot be read past a damaged line ({str(exc).splitlines()[0][:160]}); fix it"
        ) from exc


def chunks(path: Path, column_names: list[str] | None) -> tuple[Iterator[pd.DataFrame], dict[str, Any]]:
    """Stream a CSV/TSV/JSON Lines file in chunks. The separator, encoding and quoting are detected on its
    start (read_table); bytes further on that do not decode as detected are read as cp1252, not a crash."""
    if path.suffix.lower() == ".jsonl":  # JSON Lines at any size: one object a line, streamed
        reader = pd.read_json(
            path,
            lines=True,
            chunksize=CHUNK_ROWS,
            dtype=False,
            encoding="utf-8",
            encoding_errors=readers.LEGACY_FALLBACK,
        )
        return (chunk.astype(object).where(chunk.notna(), None) for chunk in reader), {
            "encoding": "utf-8",
            "separator": "json",
        }
    if path.stat().st_size <= SAMPLE_BYTES or path.suffix.lower() == ".json":
        frame, detected = readers.read_table(path, column_names=column_names, keep_blank_lines=True)
        return iter([frame[i : i + CHUNK_ROWS] for i in range(0, len(frame), CHUNK_ROWS)]), detected
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES).rsplit(b"\n", 1)[0]
    with tempfile.TemporaryDirectory() as tmp:  # never beside the user's file
        sample_path = Path(tmp) / f"sample{path.suffix}"
        sample_path.write_bytes(sample)
        _, detected = readers.read_table(sample_path, column_names=column_names)
    encoding = "utf-8-sig" if detected["encoding"].startswith("utf-8") else detected["encoding"]
    reader = pd.read_csv(
        path,
        sep=detected["separator"],
        encoding=encoding,
        encoding_errors=readers.LEGACY_FALLBACK,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        chunksize=CHUNK_ROWS,
        quoting=detected.get("quoting", csv.QUOTE_MINIMAL),
        skip_blank_lines=False,  # every line a row: same rows, same order
        header=None if column_names else "infer",
        names=column_names or None,
    )
    return reader, detected


def check_input(input_path: Path, column_names: list[str] | None) -> None:
    if not input_path.exists():
        raise UserError(f"input file {input_path} not found; give INPUT=path/to/file.csv")
    if not input_path.is_file():
        raise UserError(f"INPUT={input_path} is not a regular file (a folder or a pipe?); give a file's path")
    if column_names and len(set(column_names)) != len(column_names):
        raise UserError(
            f"COLUMN_NAMES={','.join(column_names)} names a column twice; give each column its own name"
        )


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """SHARD=i/N (i from 1 to N) as (i, N); None for the whole file."""
    if not value:
        return None
    parts = value.strip().split("/")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        i, n = (int(p) for p in parts)
        if 1 <= i <= n:
            return i, n
    raise UserError(f"SHARD={value}: give i/N with i from 1 to N, e.g. SHARD=1/4 ... SHARD=4/4")


def shard_blocks(chunks: Iterator[pd.DataFrame], shard: tuple[int, int]) -> range:
    """Which blocks of CHUNK_ROWS rows shard i of N predicts: a contiguous, deterministic run of whole
    blocks, so that the shards' outputs, concatenated in order, are the single-process output exactly
    (a block is predicted the same way, in the same batches, whichever process reads it)."""
    blocks = sum(1 for _ in chunks)
    i, n = shard
    return range((i - 1) * blocks // n, i * blocks // n)
