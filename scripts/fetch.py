"""Entry point: fetch a dataset ahead of training.

python -m scripts.fetch [--data PRESET] [--kaggle owner/dataset]
"""

from __future__ import annotations

from collections.abc import Sequence

from scripts.common import settings
from scripts.common.console import say
from scripts.common.errors import Parser, run_cli
from scripts.data import sources


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.fetch", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a preset name or hf:owner/name (default: the configured dataset)")
    parser.add_argument("--kaggle", help="owner/dataset on Kaggle")
    args = parser.parse_args(argv)
    if args.kaggle:
        files = sources.fetch_kaggle(args.kaggle)
        say(f"downloaded {len(files)} file(s):")
        for path in files:
            print(f"  {path}")
        print('train on one with: make train DATA=<file> SET="text_column=... label_column=..."')
        return 0
    cfg = settings.resolve({"dataset": args.data} if args.data else {})
    source = sources.get_source(cfg["dataset"], cfg["hf_config"], cfg["hf_revision"])
    if source.frames is not None:  # a Hub dataset (now in the local cache), Parquet or Arrow
        where = f" at commit {source.hub_revision}" if source.hub_revision else ""
        for split, frame in source.frames.items():
            say(f"{source.name}{where} {split}: {len(frame)} rows, columns {list(frame.columns)}")
        return 0
    for split, path in source.files.items():
        say(f"{source.name} {split}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
