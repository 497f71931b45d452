"""Entry point: predictions for new texts with a trained run (labels, thresholds and all).

    python -m scripts.predict --input new.csv [--output out.csv] [--run RUN] [--text-column COL] [--quantize]
    python -m scripts.predict "some text" ["another text" ...]

The output keeps every input column, in the input order, and adds `predicted` plus one
`prob_<label>` column per label. Rows with an empty text get an empty prediction and are counted.
"""

from __future__ import annotations

import csv
import os
import signal
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.data import readers
from scripts.data.columns import join_text
from scripts.data.dataset import load_split
from scripts.model.inference import Predictor, load_predictor

CHUNK_ROWS = 2000
SAMPLE_BYTES = 8 << 20  # files up to this size are read at once; larger ones stream


def format_labels(decided: Any, delimiter: str) -> str:
    return delimiter.join(decided) if isinstance(decided, tuple) else str(decided)


def predict_frame(
    predictor: Predictor,
    frame: pd.DataFrame,
    text_columns: list[str],
    delimiter: str = ",",
    batch_size: int = 64,
) -> tuple[pd.DataFrame, int]:
    """Add `predicted` and `prob_<label>` columns; returns the frame and how many rows had no text."""
    texts = join_text(frame, text_columns)
    has_text = texts.str.len() > 0
    probs = np.full((len(frame), len(predictor.labels)), np.nan)
    predicted = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    if has_text.any():
        p = predictor.predict_proba(texts[has_text].tolist(), batch_size)
        probs[has_text.to_numpy()] = p
        predicted[has_text] = [format_labels(d, delimiter) for d in predictor.decide(p)]
    out = frame.copy()
    out["predicted"] = predicted.to_numpy()
    for j, name in enumerate(predictor.labels):
        out[f"prob_{name}"] = np.round(probs[:, j], 6)
    return out, int((~has_text).sum())


def _checked(chunks: Iterator[pd.DataFrame], name: str) -> Iterator[pd.DataFrame]:
    """A damaged line deep in a streamed file is one line naming the problem, never a traceback."""
    try:
        yield from chunks
    except (ValueError, pd.errors.ParserError) as exc:  # pandas' parse errors name the line where it can
        raise UserError(
            f"{name} cannot be read past a damaged line ({str(exc).splitlines()[0][:160]}); fix it"
        ) from exc


def _chunks(path: Path, column_names: list[str] | None) -> tuple[Iterator[pd.DataFrame], dict[str, Any]]:
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
        frame, detected = readers.read_table(path, column_names=column_names)
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
        header=None if column_names else "infer",
        names=column_names or None,
    )
    return reader, detected


def check_output(input_path: Path, output_path: Path, run_dir: Path | None = None) -> None:
    """Never write over the input or into a run folder (its splits and records are what eval, the card and
    push read); make the output folder if it is missing."""
    if output_path.resolve() == input_path.resolve():
        raise UserError(
            f"OUTPUT is the input file {input_path.name}: predictions would overwrite it; "
            "choose another OUTPUT (the default is <input>.predictions.csv)"
        )
    if run_dir is not None and output_path.resolve().is_relative_to(run_dir.resolve()):
        raise UserError(
            f"OUTPUT={output_path} is inside the run folder {run_dir.name}, whose files later stages read; "
            "write the predictions elsewhere, e.g. OUTPUT=predictions.csv"
        )
    if output_path.exists() and output_path.is_dir():
        raise UserError(
            f"OUTPUT={output_path} is a folder; give a file name, e.g. {output_path / 'predictions.csv'}"
        )
    if not output_path.parent.exists():
        try:
            output_path.parent.mkdir(parents=True)
        except OSError as exc:
            raise UserError(
                f"the output folder {output_path.parent} does not exist and cannot be made "
                f"({exc.strerror}); choose another OUTPUT"
            ) from exc
        say(f"made the output folder {output_path.parent}")


def check_input(input_path: Path, column_names: list[str] | None) -> None:
    if not input_path.exists():
        raise UserError(f"input file {input_path} not found; give INPUT=path/to/file.csv")
    if not input_path.is_file():
        raise UserError(f"INPUT={input_path} is not a regular file (a folder or a pipe?); give a file's path")
    if column_names and len(set(column_names)) != len(column_names):
        raise UserError(
            f"COLUMN_NAMES={','.join(column_names)} names a column twice; give each column its own name"
        )


def check_columns(columns: Sequence[str], wanted: list[str], labels: list[str], name: str) -> None:
    """The text columns are there; no input column is named like an output column (it would be
    overwritten silently: the input keeps every column)."""
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise UserError(
            f"text column {missing[0]!r} not found in {name} (columns: "
            f"{', '.join(map(repr, list(columns)[:6]))}); set TEXT_COLUMN=..., or name the "
            "columns of a file without a header row with COLUMN_NAMES=label,text"
        )
    clashing = [c for c in ["predicted", *(f"prob_{label}" for label in labels)] if c in columns]
    if clashing:
        raise UserError(
            f"{name} already has column(s) {', '.join(map(repr, clashing))}, which predict writes; rename "
            "them (or drop them, e.g. from an earlier predictions file) and run again"
        )


BACKENDS = ("auto", "torch", "onnx")


def choose_predictor(run_dir: Path, backend: str, quantize: bool, threads: Any) -> Predictor:
    """ONNX Runtime (no torch import) when asked, or with `auto` when the run has an export (make export);
    PyTorch otherwise. QUANTIZE=1: the int8 model of the backend (checked faithful when it was made)."""
    from scripts.model.onnx_predictor import load_onnx_predictor, onnx_file

    if backend not in BACKENDS:
        raise UserError(f"BACKEND={backend!r}: use one of {', '.join(BACKENDS)}")
    exported = onnx_file(run_dir / "onnx", quantize) is not None
    if backend == "onnx" or (backend == "auto" and exported):
        say(f"backend: ONNX Runtime ({'int8' if quantize else 'fp32'}, {run_dir.name}/onnx)")
        return load_onnx_predictor(run_dir / "onnx", threads, quantized=quantize)
    if quantize:
        return faithful_quantized(run_dir, threads)[0]
    return load_predictor(runs.model_dir(run_dir), threads)


def faithful_quantized(
    run_dir: Path, threads: Any = "auto", rows: int = 1000, needed: float = 0.99
) -> tuple[Predictor, float]:
    """The int8 model if it gives the fp32 labels on >= 99 % of the run's test rows, else the fp32 model."""
    test = load_split(runs.split_path(run_dir, "test"), runs.read_record(run_dir)["task"])["text"].tolist()[
        :rows
    ]
    exact = load_predictor(runs.model_dir(run_dir), threads)
    quantized = load_predictor(runs.model_dir(run_dir), threads, quantize=True)
    same = [
        a == b
        for a, b in zip(
            exact.decide(exact.predict_proba(test)), quantized.decide(quantized.predict_proba(test))
        )
    ]
    agreement = float(np.mean(same)) if same else 1.0
    if agreement >= needed:
        say(f"int8 model: {100 * agreement:.2f} % of {len(same)} test rows keep their fp32 label; using it")
        return quantized, agreement
    say(f"int8 model changes {100 * (1 - agreement):.2f} % of test labels (over 1 %): using fp32 instead")
    return exact, agreement


def predict_file(
    run_dir: Path,
    input_path: Path,
    output_path: Path | None = None,
    text_column: str | None = None,
    quantize: bool = False,
    threads: Any = "auto",
    column_names: list[str] | None = None,
    backend: str = "auto",
) -> dict[str, Any]:
    """Predict every row of a CSV/TSV; the output is written to a temporary file and renamed when complete."""
    from tqdm import tqdm

    check_input(input_path, column_names)
    record = runs.read_record(run_dir)
    wanted = [text_column] if text_column else record["dataset"].get("text_columns") or ["text"]
    output_path = output_path or input_path.with_name(f"{input_path.stem}.predictions.csv")
    check_output(input_path, output_path, run_dir)
    chunks, detected = _chunks(input_path, column_names)
    chunks = _checked(chunks, input_path.name)
    predictor = choose_predictor(run_dir, backend, quantize, threads)
    delimiter = runs.saved_config(run_dir).get("label_delimiter", ",")
    partial = output_path.with_name(f".{output_path.name}.partial")
    rows = empty = 0
    try:
        with tqdm(desc="predicting", unit=" rows", disable=None) as bar:
            for i, chunk in enumerate(chunks):
                chunk.columns = [str(c).strip() for c in chunk.columns]
                if i == 0:
                    check_columns(chunk.columns, wanted, predictor.labels, input_path.name)
                out, n_empty = predict_frame(predictor, chunk, wanted, delimiter)
                out.to_csv(partial, mode="w" if i == 0 else "a", header=i == 0, index=False)
                rows, empty = rows + len(out), empty + n_empty
                bar.update(len(out))
        if rows == 0:
            raise UserError(f"{input_path.name} has no data rows to predict")
        os.replace(partial, output_path)
    except OSError as exc:
        if exc.errno not in runs.WRITE_ERRORS:
            raise
        raise UserError(
            f"could not write {output_path} ({exc.strerror or exc}); free space or choose a writable OUTPUT"
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
    return {
        "rows": rows,
        "empty_texts": empty,
        "output": str(output_path),
        "text_columns": wanted,
        "detected": detected,
    }


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.predict", description=__doc__.splitlines()[0])
    parser.add_argument("texts", nargs="*", help="texts to classify (instead of --input)")
    parser.add_argument("--input", help="a CSV/TSV file with a text column")
    parser.add_argument("--output", help="where to write (default: <input>.predictions.csv)")
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument("--text-column", help="the text column (default: the one the run trained on)")
    parser.add_argument(
        "--column-names", help="comma-separated names for a file without a header row, e.g. label,text"
    )
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantisation (CPU)")
    parser.add_argument(
        "--backend",
        default="auto",
        help="auto (ONNX Runtime when the run has an export, else PyTorch) | torch | onnx",
    )
    args = parser.parse_args(argv)
    signal.signal(
        signal.SIGTERM, signal.default_int_handler
    )  # SIGTERM cleans the partial file as Ctrl-C does
    if not args.texts and not args.input:
        raise UserError(
            'nothing to predict: give INPUT=file.csv or texts, e.g. python -m scripts.predict "free prize"'
        )
    run_dir, cfg = runs.find_from_cli(args.run)
    if args.input:
        result = predict_file(
            run_dir,
            Path(args.input),
            Path(args.output) if args.output else None,
            args.text_column,
            args.quantize,
            cfg["threads"],
            args.column_names.split(",") if args.column_names else None,
            args.backend,
        )
        say(
            f"{result['rows']} rows -> {result['output']} ({result['empty_texts']} rows with an empty "
            "text got no prediction)"
        )
        return 0
    predictor = choose_predictor(run_dir, args.backend, args.quantize, cfg["threads"])
    probs = predictor.predict_proba(args.texts)
    for text, decided, row in zip(args.texts, predictor.decide(probs), probs):
        scores = ", ".join(
            f"{name} {p:.3f}" for name, p in sorted(zip(predictor.labels, row), key=lambda kv: -kv[1])[:5]
        )
        print(f"{format_labels(decided, ', ') or '(no label)'}\t[{scores}]\t{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
