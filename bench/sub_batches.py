"""Sub-batches on and off, side by side: `make train`'s training time on a dataset preset.

    python -m bench.sub_batches --dataset goemotions --rows 6000 --epochs 1 --rounds 2
                                [--set train_batch_size=32 ...] [--out bench/sub_batches/goemotions.json]

Each round trains twice, sub_batches=true then false (alternating the order each round, so a machine
that slows down does not favour one), with the same seed, rows, epochs and every other default, and
prints the training seconds, the on/off ratio, and the pass cost the steps measured (run.json's
sub_batch_pass_cost). Early stopping is off so both take the same steps.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from scripts.common.provenance import bench_command


def train_once(
    dataset: str, rows: int, epochs: int, enabled: bool, outputs: Path, extra: dict | None = None
) -> dict:
    from scripts import train
    from scripts.common import runs, settings

    cfg = settings.resolve(
        {
            **(extra or {}),
            "dataset": dataset,
            "max_train_rows": rows,
            "num_train_epochs": epochs,
            "use_early_stopping": False,
            "sub_batches": enabled,
            "outputs_dir": str(outputs),
            "run_name": f"sub-batches-{enabled}".lower(),
        }
    )
    record = runs.read_record(train.train_run(cfg))
    return {
        "sub_batches": enabled,
        "train_seconds": record["train_seconds"],
        "pass_cost": record.get("sub_batch_pass_cost"),
        "best_epoch": record["best_epoch"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="goemotions")
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], help="other config values, key=value")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    from scripts.common import settings

    extra = settings.parse_overrides(args.set)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for enabled in (True, False) if round_ % 2 == 0 else (False, True):
                run = train_once(
                    args.dataset, args.rows, args.epochs, enabled, Path(tmp) / f"r{round_}", extra
                )
                results.append({"round": round_ + 1, **run})
                print(f"[sub_batches] round {round_ + 1}: {json.dumps(results[-1])}", flush=True)
    ratios = []
    for round_ in range(1, args.rounds + 1):
        on, off = (
            next(r["train_seconds"] for r in results if r["round"] == round_ and r["sub_batches"] is flag)
            for flag in (True, False)
        )
        ratios.append(off / on)
        print(f"round {round_}: on {on:.1f} s, off {off:.1f} s, speed-up with sub-batches {off / on:.3f}x")
    print(f"median speed-up {statistics.median(ratios):.3f}x over {args.rounds} rounds")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "command": bench_command("bench.sub_batches", list(sys.argv[1:] if argv is None else argv)),
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
            "speed_ups": ratios,
            "runs": results,
        }
        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
