"""A predictor's outputs as a user reads them: the columns make predict adds to every row (and where they may
be written: never into a run, never over the input), one line a text, and whether a copy of the model
(int8, ONNX, the Hub's) decides as the original."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common import ownership
from scripts.common.console import say
from scripts.common.errors import UserError
from scripts.data.columns import join_text
from scripts.model.inference import Predictor


def format_labels(decided: Any, delimiter: str) -> str:
    return delimiter.join(decided) if isinstance(decided, tuple) else str(decided)


def output_columns(predictor: Predictor) -> list[str]:
    """What predict adds to every row: `predicted` and prob_<label> (classes); a regression's score and its
    interval (`predicted`, `low`, `high`, or predicted_<target>, low_<target>, high_<target>)."""
    kind, names = predictor.kind, predictor.labels
    if kind.classifies:
        return ["predicted", *kind.output_columns(names)]
    if len(names) == 1:
        return ["predicted", "low", "high"] if predictor.meta.get("interval") else ["predicted"]
    parts = ["predicted", "low", "high"] if predictor.meta.get("interval") else ["predicted"]
    return [f"{part}_{name}" for name in names for part in parts]


def text_columns(record: dict[str, Any], text_column: str | None) -> list[str]:
    """The input columns to read: TEXT_COLUMN (a pair's two: first,second), else those the run trained on."""
    wanted = text_column.split(",") if text_column else record["dataset"].get("text_columns") or ["text"]
    if record["dataset"].get("text_pair") and len(wanted) != 2:
        raise UserError(
            "this model reads pairs of texts: TEXT_COLUMN needs the two columns, e.g. "
            f"TEXT_COLUMN=first,second (it trained on {record['dataset'].get('text_columns')})"
        )
    return wanted


def model_inputs(
    predictor: Predictor, frame: pd.DataFrame, text_columns: list[str]
) -> tuple[list[Any], pd.Series]:
    """Each row's input (its text, or a pair model's two texts) and whether it has one: a row with an
    empty text (either text of a pair) gets no prediction."""
    if predictor.pair:
        first, second = join_text(frame, text_columns[:1]), join_text(frame, text_columns[1:])
        return list(zip(first, second)), (first.str.len() > 0) & (second.str.len() > 0)
    texts = join_text(frame, text_columns)
    return texts.tolist(), texts.str.len() > 0


def predict_frame(
    predictor: Predictor,
    frame: pd.DataFrame,
    text_columns: list[str],
    delimiter: str = ",",
    batch_size: int = 64,
) -> tuple[pd.DataFrame, int]:
    """Add the prediction columns (output_columns); returns the frame and how many rows had no text."""
    inputs, has_text = model_inputs(predictor, frame, text_columns)
    keep = has_text.to_numpy()
    values = np.full((len(frame), len(predictor.labels)), np.nan)
    predicted = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    if keep.any():
        p = predictor.predict_proba([x for x, k in zip(inputs, keep) if k], batch_size)
        values[keep] = p
        if predictor.kind.classifies:
            predicted[has_text] = [format_labels(d, delimiter) for d in predictor.decide(p)]
    out = frame.copy()
    if predictor.kind.classifies:
        out["predicted"] = predicted.to_numpy()
        for j, name in enumerate(predictor.labels):
            out[f"prob_{name}"] = np.round(values[:, j], 6)
        return out, int((~has_text).sum())
    bounds = predictor.intervals(values)
    columns = iter(output_columns(predictor))
    for j in range(len(predictor.labels)):
        out[next(columns)] = np.round(values[:, j], 6)
        if bounds is not None:
            out[next(columns)] = np.round(bounds[0][:, j], 6)
            out[next(columns)] = np.round(bounds[1][:, j], 6)
    return out, int((~has_text).sum())


def agreeing(reference: Predictor, expected: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Per row, whether a copy of the model (int8, ONNX) decides as the reference: the same labels, or a
    regression's scores within a tenth of the interval's half-width (of the scores' spread without one)."""
    if reference.kind.classifies:
        return np.array(
            [a == b for a, b in zip(reference.decide(expected), reference.decide(got))], dtype=bool
        )
    interval = reference.meta.get("interval")
    spread = np.asarray(interval["half_width"]) if interval else np.maximum(expected.std(axis=0), 1e-6)
    return (np.abs(expected - got) <= spread / 10).all(axis=1)


def describe(predictor: Predictor, decided: Any, row: np.ndarray) -> str:
    """One prediction in a line: the labels and the top probabilities, or the scores and their interval."""
    if not predictor.kind.classifies:
        bounds = predictor.intervals(np.asarray([row]))
        return ", ".join(
            f"{name} {v:.4g}" + (f" [{bounds[0][0, j]:.4g}, {bounds[1][0, j]:.4g}]" if bounds else "")
            for j, (name, v) in enumerate(zip(predictor.labels, row))
        )
    scores = ", ".join(
        f"{name} {p:.3f}" for name, p in sorted(zip(predictor.labels, row), key=lambda kv: -kv[1])[:5]
    )
    return f"{format_labels(decided, ', ') or '(no label)'}\t[{scores}]"


def check_output(input_path: Path, output_path: Path, run_dir: Path | None = None) -> None:
    """Never write over the input or into a run folder (its splits and records are what eval, the card and
    push read); make the output folder if it is missing."""
    if output_path.resolve() == input_path.resolve():
        raise UserError(
            f"OUTPUT is the input file {input_path.name}: predictions would overwrite it; "
            "choose another OUTPUT (the default is <input>.predictions.csv)"
        )
    owner = ownership.owning_folder(output_path, run_dir.parent if run_dir is not None else None)
    if owner is None and run_dir is not None and output_path.resolve().is_relative_to(run_dir.resolve()):
        owner = run_dir
    if owner is not None:
        raise UserError(
            f"OUTPUT={output_path} is inside {owner}, whose files quickfit's later stages read (a run's "
            "splits, model and records); write the predictions elsewhere, e.g. OUTPUT=predictions.csv"
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


def check_writable(partial: Path, output_path: Path) -> None:
    try:
        with open(partial, "w"):
            pass
    except OSError as exc:
        raise UserError(
            f"cannot write OUTPUT={output_path} ({exc.strerror or exc}); choose a writable OUTPUT"
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def check_columns(
    columns: Sequence[str], wanted: list[str], outputs: list[str], name: str, pair: bool = False
) -> None:
    """The text columns are there (both of a pair); no input column is named like an output column (it
    would be overwritten silently: the input keeps every column)."""
    missing = [c for c in wanted if c not in columns]
    if missing:
        which = f"the pair's text columns {wanted}" if pair else "text column"
        raise UserError(
            f"{which} {missing[0]!r} not found in {name} (columns: "
            f"{', '.join(map(repr, list(columns)[:6]))}); set TEXT_COLUMN=..."
            + (" (two columns for a pair: TEXT_COLUMN=first,second)" if pair else "")
            + ", or name the columns of a file without a header row with COLUMN_NAMES=label,text"
        )
    clashing = [c for c in outputs if c in columns]
    if clashing:
        raise UserError(
            f"{name} already has column(s) {', '.join(map(repr, clashing))}, which predict writes; rename "
            "them (or drop them, e.g. from an earlier predictions file) and run again"
        )
