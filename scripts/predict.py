"""Entry point: predictions for new texts with a trained run (labels, thresholds and all).

    python -m scripts.predict --input new.csv [--output out.csv] [--run RUN] [--text-column COL] [--quantize]
    python -m scripts.predict "some text" ["another text" ...]

The output keeps every input column, in the input order, and adds `predicted` plus one
`prob_<label>` column per label. Rows with an empty text get an empty prediction and are counted.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common import runs, tasks
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.data import blocks
from scripts.data.dataset import load_split
from scripts.model.inference import Predictor, load_predictor
from scripts.model.prediction import (
    agreeing,
    check_columns,
    check_output,
    check_writable,
    describe,
    output_columns,
    predict_frame,
    text_columns,
)

BACKENDS = ("auto", "torch", "onnx")


def resolved_backend(run_dir: Path, backend: str, quantize: bool = False) -> str:
    """torch or onnx: ONNX Runtime when asked, or with `auto` when the run has an export (make export)."""
    from scripts.model.onnx_predictor import onnx_file

    if backend not in BACKENDS:
        raise UserError(f"BACKEND={backend!r}: use one of {', '.join(BACKENDS)}")
    exported = onnx_file(run_dir / "onnx", quantize) is not None
    return "onnx" if backend == "onnx" or (backend == "auto" and exported) else "torch"


def choose_predictor(
    run_dir: Path, backend: str, quantize: bool, threads: Any, spinning: bool = True
) -> Predictor:
    """ONNX Runtime (no torch import) when asked, or with `auto` when the run has an export (make export);
    PyTorch otherwise. QUANTIZE=1: the int8 model of the backend (checked faithful when it was made).
    spinning=False: ONNX Runtime's threads sleep between runs (a server sharing its cores)."""
    from scripts.model.onnx_predictor import load_onnx_predictor, onnx_file

    exported = onnx_file(run_dir / "onnx", quantize) is not None
    if resolved_backend(run_dir, backend, quantize) == "onnx":
        from scripts.model.meta import check_bound

        if exported:  # never another run's export, nor one of weights changed since
            check_bound(run_dir / "onnx", runs.model_dir(run_dir))
        say(f"backend: ONNX Runtime ({'int8' if quantize else 'fp32'}, {run_dir.name}/onnx)")
        return load_onnx_predictor(run_dir / "onnx", threads, quantized=quantize, spinning=spinning)
    if quantize:
        return faithful_quantized(run_dir, threads)[0]
    return load_predictor(runs.model_dir(run_dir), threads)


def faithful_quantized(
    run_dir: Path, threads: Any = "auto", rows: int = 1000, needed: float = 0.99
) -> tuple[Predictor, float]:
    """The int8 model if it gives the fp32 labels on >= 99 % of the run's test rows (a regression: scores
    within a tenth of their interval, or of the targets' spread), else the fp32 model."""
    record = runs.read_record(run_dir)
    test = load_split(runs.split_path(run_dir, "test"), record["task"]).head(rows)
    exact = load_predictor(runs.model_dir(run_dir), threads)
    quantized = load_predictor(runs.model_dir(run_dir), threads, quantize=True)
    inputs = exact.rows(tasks.inputs_of(exact.meta).rows(test))
    same = agreeing(exact, exact.predict_proba(inputs), quantized.predict_proba(inputs))
    agreement = float(np.mean(same)) if len(same) else 1.0
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
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Predict every row of a CSV/TSV (or shard i of N's rows); the output is written to a temporary file
    and renamed when complete."""
    blocks.check_input(input_path, column_names)
    wanted = text_columns(runs.read_record(run_dir), text_column)
    ending = f".predictions.shard-{shard[0]}-of-{shard[1]}.csv" if shard else ".predictions.csv"
    output_path = output_path or input_path.with_name(f"{input_path.stem}{ending}")
    check_output(input_path, output_path, run_dir)
    partial = output_path.with_name(f".{output_path.name}.partial")
    check_writable(partial, output_path)  # before any work: /proc, a read-only disk, no permission
    chunks, detected = blocks.chunks(input_path, column_names)
    chunks = blocks.checked(chunks, input_path.name)
    mine = None
    if shard:  # a first pass counts the blocks
        mine = blocks.shard_blocks(
            blocks.checked(blocks.chunks(input_path, column_names)[0], input_path.name), shard
        )
    predictor = choose_predictor(run_dir, backend, quantize, threads)
    delimiter = runs.saved_config(run_dir).get("label_delimiter", ",")
    try:
        rows, empty, n_blocks = _write_blocks(
            predictor, chunks, partial, wanted, delimiter, mine, input_path.name
        )
        if n_blocks == 0 or (rows == 0 and mine is None):
            raise UserError(f"{input_path.name} has no data rows to predict")
        if rows == 0:
            say(
                f"shard {shard[0]}/{shard[1]} has no rows: {input_path.name} has fewer blocks of "
                f"{blocks.CHUNK_ROWS} rows than shards"
            )
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
        "shard": shard
        and f"{shard[0]}/{shard[1]}: blocks {mine.start + 1} to {mine.stop} of {n_blocks} "
        f"({blocks.CHUNK_ROWS} rows)",
    }


def _write_blocks(
    predictor: Predictor,
    chunks: Iterator[pd.DataFrame],
    partial: Path,
    wanted: list[str],
    delimiter: str,
    mine: range | None,
    name: str,
) -> tuple[int, int, int]:
    """Predict the blocks (those of the shard, when given) into partial, the header first; returns the rows
    predicted, those with an empty text, and the blocks read."""
    from tqdm import tqdm

    rows = empty = n_blocks = 0
    with tqdm(desc="predicting", unit=" rows", disable=None) as bar:
        for i, chunk in enumerate(chunks):
            n_blocks += 1
            chunk.columns = [str(c).strip() for c in chunk.columns]
            if i == 0:
                outputs = output_columns(predictor)
                check_columns(chunk.columns, wanted, outputs, name, predictor.pair)
            if mine is not None and i not in mine:
                if i == 0:  # the header every shard's file starts with
                    pd.DataFrame(columns=[*chunk.columns, *outputs]).to_csv(partial, index=False)
                continue
            out, n_empty = predict_frame(predictor, chunk, wanted, delimiter)
            first = rows == 0 and (mine is None or i == 0)
            out.to_csv(partial, mode="w" if first else "a", header=first, index=False)
            rows, empty = rows + len(out), empty + n_empty
            bar.update(len(out))
    return rows, empty, n_blocks


def predict_with_ray(run_dir: Path, args: Any) -> int:
    from scripts.serving.ray_batch import predict_folder

    if not args.input or args.shard or args.quantize:
        raise UserError("ENGINE=ray takes INPUT=<folder of CSV or Parquet files>, without SHARD or QUANTIZE")
    if not str(args.workers).isdigit() or int(args.workers) < 1:
        raise UserError(f"WORKERS={args.workers}: give a whole number of model workers, 1 or more")
    result = predict_folder(
        run_dir,
        Path(args.input),
        Path(args.output) if args.output else None,
        args.text_column,
        args.backend,
        int(args.workers),
    )
    say(
        f"{result['rows']} rows of {result['files']} file(s) -> {result['output']} "
        f"({result['workers']} workers)"
    )
    return 0


def _predict_texts(run_dir: Path, args: Any) -> int:
    """Texts given on the command line: one line each, the decision and the top probabilities (or scores)."""
    predictor = choose_predictor(run_dir, args.backend, args.quantize, runs.threads_here(run_dir))
    texts = args.texts
    if predictor.pair:  # a pair model: the texts are first, second, first, second ...
        if len(texts) % 2:
            raise UserError(
                "this model reads pairs of texts: give an even number, first and second of each pair"
            )
        texts = list(zip(texts[0::2], texts[1::2]))
    probs = predictor.predict_proba(texts)
    for text, decided, row in zip(texts, predictor.decide(probs), probs):
        shown = " || ".join(text) if isinstance(text, tuple) else text
        print(f"{describe(predictor, decided, row)}\t{shown}")
    return 0


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.predict", description=__doc__.splitlines()[0])
    parser.add_argument("texts", nargs="*", help="texts to classify (instead of --input)")
    parser.add_argument("--input", help="a CSV/TSV file with a text column")
    parser.add_argument("--output", help="where to write (default: <input>.predictions.csv)")
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument(
        "--text-column", help="the text column, or a pair's two: first,second (default: the run's own)"
    )
    parser.add_argument(
        "--column-names", help="comma-separated names for a file without a header row, e.g. label,text"
    )
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantisation (CPU)")
    parser.add_argument("--shard", help="i/N: predict the i-th of N contiguous slices (a Slurm array task)")
    parser.add_argument(
        "--engine", default="local", help="local | ray (INPUT: a folder of CSV or Parquet files)"
    )
    parser.add_argument("--workers", default="2", help="ENGINE=ray: model workers (Ray actors)")
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
    run_dir, _ = runs.find_from_cli(args.run)
    if args.engine not in ("local", "ray"):
        raise UserError(f"ENGINE={args.engine!r}: use local (the default) or ray")
    if args.engine == "ray":
        return predict_with_ray(run_dir, args)
    if args.input:
        result = predict_file(
            run_dir,
            Path(args.input),
            Path(args.output) if args.output else None,
            args.text_column,
            args.quantize,
            runs.threads_here(run_dir),
            args.column_names.split(",") if args.column_names else None,
            args.backend,
            blocks.parse_shard(args.shard),
        )
        say(
            f"{result['rows']} rows -> {result['output']} ({result['empty_texts']} rows with an empty "
            "text got no prediction)" + (f"; shard {result['shard']}" if result["shard"] else "")
        )
        return 0
    return _predict_texts(run_dir, args)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
