"""make predict ENGINE=ray: a folder of CSV or Parquet files predicted by Ray Data actors, each holding the
run's model once (the same predictor, columns and decision rule as make predict), on a local Ray or on the
cluster RAY_ADDRESS names. Each input file gets its own predictions file, its rows in their input order.

On a real cluster every node needs this project, its pinned environment and the run folder at the same path
(a shared file system); docs/scale.md has the commands."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import UserError
from scripts.data.blocks import CHUNK_ROWS

PROJECT = Path(__file__).resolve().parents[2]
KINDS = (".csv", ".parquet")


def input_files(folder: Path) -> list[Path]:
    """The folder's CSV or Parquet files, sorted by name (one kind, never a mix)."""
    if not folder.is_dir():
        raise UserError(f"ENGINE=ray reads a folder of CSV or Parquet files; INPUT={folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in KINDS)
    if not files:
        raise UserError(f"INPUT={folder} holds no .csv or .parquet file; put the shards to predict there")
    kinds = {p.suffix.lower() for p in files}
    if len(kinds) > 1:
        raise UserError(f"INPUT={folder} mixes {' and '.join(sorted(kinds))} files; give one kind a folder")
    return files


def header(file: Path) -> list[str]:
    if file.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(file).names)
    return [str(c).strip() for c in pd.read_csv(file, nrows=0).columns]


class Scorer:
    """A Ray actor: the run's predictor, loaded once, applied to batches as make predict applies it."""

    def __init__(self, run_dir: str, backend: str, threads: int, wanted: list[str], delimiter: str):
        from scripts.model.prediction import output_columns
        from scripts.predict import choose_predictor

        self.predictor = choose_predictor(Path(run_dir), backend, False, threads)
        self.wanted, self.delimiter = wanted, delimiter
        self.outputs = output_columns(self.predictor)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from scripts.model.prediction import check_columns, predict_frame

        source = batch.drop(columns=["path"])
        check_columns(source.columns, self.wanted, self.outputs, "the input", self.predictor.pair)
        out, _ = predict_frame(self.predictor, source, self.wanted, self.delimiter)
        return out.assign(path=batch["path"].to_numpy())


def start_ray(address: str | None, workers: int) -> Any:
    import ray

    if address:
        say(f"Ray: joining the cluster at {address}")
        return ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    # A local instance's workers inherit this environment (a runtime_env would cost a setup per worker):
    # the project on their path, no token prompt. One logical CPU an actor, and one for the reading tasks.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT), os.environ.get("PYTHONPATH")) if p)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    say(f"Ray: a local instance with {workers} model worker(s)")
    return ray.init(
        num_cpus=workers + 1, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False
    )


def read(files: Sequence[Path], wanted: list[str]) -> Any:
    """The files as one Ray dataset with a `path` column; a CSV's text columns read as strings, an empty
    cell as an empty text (as make predict reads it)."""
    import pyarrow as pa
    import ray.data
    from pyarrow import csv

    names = [str(f) for f in files]
    if files[0].suffix.lower() == ".parquet":
        return ray.data.read_parquet(names, include_paths=True)
    options = csv.ConvertOptions(column_types=dict.fromkeys(wanted, pa.string()), strings_can_be_null=False)
    return ray.data.read_csv(names, include_paths=True, convert_options=options)


class Writers:
    """One predictions file an input file, written as the rows arrive (in order), then renamed whole."""

    def __init__(self, folder: Path, parquet: bool):
        self.folder, self.parquet, self.open = folder, parquet, {}

    def write(self, frame: pd.DataFrame) -> None:
        for path, rows in frame.groupby("path", sort=False):
            rows = rows.drop(columns=["path"])
            name = Path(str(path)).name
            target = self.folder / f"{Path(name).stem}.predictions{'.parquet' if self.parquet else '.csv'}"
            if self.parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(rows, preserve_index=False)
                if target not in self.open:
                    self.open[target] = pq.ParquetWriter(target, table.schema)
                self.open[target].write_table(table)
            else:
                rows.to_csv(
                    target,
                    mode="a" if target in self.open else "w",
                    header=target not in self.open,
                    index=False,
                )
                self.open[target] = None

    def close(self) -> list[Path]:
        for writer in self.open.values():
            if writer is not None:
                writer.close()
        return sorted(self.open)


def predict_folder(
    run_dir: Path,
    folder: Path,
    output: Path | None = None,
    text_column: str | None = None,
    backend: str = "auto",
    workers: int = 2,
) -> dict[str, Any]:
    """Predict every file of the folder with Ray Data; the predictions folder appears whole or not at all."""
    import ray
    import ray.data
    import ray.exceptions

    from scripts.model.prediction import check_columns, check_output, text_columns

    files = input_files(folder)
    record = runs.read_record(run_dir)
    wanted = text_columns(record, text_column)
    output = output or folder.with_name(f"{folder.name}.predictions")
    if output.exists():
        raise UserError(f"OUTPUT={output} exists; remove it or give another OUTPUT folder")
    check_output(folder, output, run_dir)
    pair = bool(record.get("text_pair"))
    for file in files:  # every file's columns before Ray starts: one line, not an actor's traceback
        check_columns(header(file), wanted, [], file.name, pair)
    partial = output.with_name(f".{output.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    delimiter = runs.saved_config(run_dir).get("label_delimiter", ",")
    threads = max(1, (os.cpu_count() or 2) // workers)
    address = os.environ.get("RAY_ADDRESS", "").strip() or None
    start_ray(address, workers)
    rows = 0
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # each file's rows come back in their order
        scored = read(files, wanted).map_batches(
            Scorer,
            fn_constructor_args=(str(run_dir), backend, threads, wanted, delimiter),
            batch_format="pandas",
            batch_size=CHUNK_ROWS,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        writers = Writers(partial, files[0].suffix.lower() == ".parquet")
        try:
            for batch in scored.iter_batches(batch_format="pandas", batch_size=None):
                writers.write(batch)
                rows += len(batch)
        except ray.exceptions.RayError as exc:  # a worker's failure: one line, nothing published
            last = [line for line in str(exc).splitlines() if line.strip()][-1:] or ["unknown error"]
            raise UserError(
                f"Ray prediction failed ({last[0][:200]}); nothing was written to {output}"
            ) from exc
        written = writers.close()
        os.replace(partial, output)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        ray.shutdown()
    return {"rows": rows, "files": len(written), "output": str(output), "workers": workers}
