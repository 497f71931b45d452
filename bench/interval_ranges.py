"""A regression's 90 % interval: one width against a width for each range of predicted value, refitted from
the same validation predictions of finished runs and scored on the same test predictions. Coverage overall,
and within each fifth of the test predictions (the level should hold along the scale, not only on average).

    python -m bench.interval_ranges outputs/bench_tasks/stsb_seed42 ... [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from scripts.evaluation.intervals import LEVEL, conformal_interval, half_widths
from scripts.evaluation.report import markdown_table


def validation_scores(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """The saved model's scores on the run's validation split and their true values (one target)."""
    from scripts.model.inference import load_predictor

    rows = pd.read_csv(run / "splits" / "validation.csv", keep_default_na=False)
    predictor = load_predictor(run / "model", threads="auto")
    inputs = list(zip(rows["text"], rows["text_b"])) if predictor.pair else rows["text"].tolist()
    truth = np.array([json.loads(v)[0] for v in rows["labels"]])
    return truth, predictor.predict_proba(inputs)[:, 0]


def scored(run: Path) -> dict[str, object]:
    y_val, p_val = validation_scores(run)
    test = pd.read_csv(run / "eval" / "predictions.csv", keep_default_na=False)
    truth = next(c for c in test if c.startswith("true_"))
    y, pred = test[truth].to_numpy(float), test["pred_" + truth[5:]].to_numpy(float)
    fifths = np.digitize(pred, np.quantile(pred, [0.2, 0.4, 0.6, 0.8]))
    ranged, _ = conformal_interval(y_val, p_val)
    one = {**ranged, "edges": [[]], "widths": [ranged["half_width"]]}
    row: dict[str, object] = {"run": run.name, "validation": len(y_val), "test": len(y)}
    for name, interval in (("one width", one), ("by range", ranged)):
        width = half_widths(interval, pred)[:, 0]
        inside = np.abs(y - pred) <= width
        by_fifth = [inside[fifths == f].mean() for f in range(5)]
        row[name] = (inside.mean(), by_fifth, width.mean(), len(interval["widths"][0]))
    return row


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        [
            "run",
            "validation rows",
            "ranges",
            "covered: one width / by range",
            "by fifth of the test predictions: one width",
            "by range",
            "mean half-width: one / by range",
        ]
    ]
    for r in rows:
        one, ranged = r["one width"], r["by range"]
        lines.append(
            [
                str(r["run"]),
                str(r["validation"]),
                str(ranged[3]),
                f"{one[0]:.1%} / {ranged[0]:.1%}",
                " ".join(f"{c:.0%}" for c in one[1]),
                " ".join(f"{c:.0%}" for c in ranged[1]),
                f"{one[2]:.3f} / {ranged[2]:.3f}",
            ]
        )
    return markdown_table(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = [scored(run) for run in args.runs]
    text = table(rows)
    for name in ("one width", "by range"):
        fifth_gaps = [max(r[name][1]) - min(r[name][1]) for r in rows]
        text += (
            f"\n{name}: median coverage {np.median([r[name][0] for r in rows]):.1%} (level {LEVEL:.0%}); "
            f"median gap between the best- and worst-covered fifth {np.median(fifth_gaps):.1%}\n"
        )
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
