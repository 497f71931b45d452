"""Entry point: fetch a dataset ahead of training.

    python -m scripts.fetch [--data PRESET] [--kaggle owner/dataset]
"""
from __future__ import annotations

import argparse
from typing import Sequence

from scripts import settings, sources
from scripts.errors import run_cli


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.fetch", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a preset name (default: the configured dataset)")
    parser.add_argument("--kaggle", help="owner/dataset on Kaggle")
    args = parser.parse_args(argv)
    if args.kaggle:
        files = sources.fetch_kaggle(args.kaggle)
        print(f"[quickfit] downloaded {len(files)} file(s):")
        for path in files:
            print(f"  {path}")
        print("train on one with: make train DATA=<file> SET=\"text_column=... label_column=...\"")
        return 0
    dataset = args.data or settings.resolve()["dataset"]
    source = sources.get_source(dataset)
    for split, path in source.files.items():
        print(f"[quickfit] {source.name} {split}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
