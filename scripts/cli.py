"""The Makefile's one way into Python: `make <target> VAR=...` -> the entry point's arguments.

The Makefile exports each variable unexpanded as QF_<VAR>; nothing a user types reaches a shell, so
spaces, quotes, parentheses, `;` and `$` arrive as data. SET is split into KEY=VALUE items the way a
shell splits words (shlex), without running anything.

    python -m scripts.cli train        # what `make train DATA=... SET="..." RESUME=1` runs
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
from collections.abc import Mapping, Sequence

from scripts.common.errors import UserError, run_cli

# target -> (module, [(variable, option, kind)]); kind: "value" (one argument), "flag" (set or not),
# "words" (shell-like split into several arguments), "joined" (--option=VALUE)
TARGETS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "data": ("scripts.fetch", [("KAGGLE", "--kaggle", "value"), ("DATA", "--data", "value")]),
    "train": (
        "scripts.train",
        [
            ("DATA", "--data", "value"),
            ("SET", "--set", "words"),
            ("RESUME", "--resume", "flag"),
            ("NPROC", "--nproc", "value"),
            ("TORCHRUN_ARGS", "--torchrun-args", "joined"),
        ],
    ),
    "eval": ("scripts.evaluate", [("RUN", "--run", "value"), ("DATA", "--data", "value")]),
    "card": ("scripts.card", [("RUN", "--run", "value"), ("REPO", "--repo", "value")]),
    "push": (
        "scripts.push",
        [
            ("REPO", "--repo", "required"),
            ("RUN", "--run", "value"),
            ("PRIVATE", "--private", "flag"),
            ("DRY_RUN", "--dry-run", "flag"),
            ("INCLUDE_DATA", "--include-data", "flag"),
        ],
    ),
    "predict": (
        "scripts.predict",
        [
            ("INPUT", "--input", "required"),
            ("OUTPUT", "--output", "value"),
            ("RUN", "--run", "value"),
            ("COLUMN_NAMES", "--column-names", "value"),
            ("TEXT_COLUMN", "--text-column", "value"),
            ("QUANTIZE", "--quantize", "flag"),
            ("BACKEND", "--backend", "value"),
            ("SHARD", "--shard", "value"),
            ("ENGINE", "--engine", "value"),
            ("WORKERS", "--workers", "value"),
        ],
    ),
    "export": ("scripts.export", [("RUN", "--run", "value"), ("QUANTIZE", "--quantize", "flag")]),
    "app": (
        "scripts.app",
        [("RUN", "--run", "value"), ("PORT", "--port", "value"), ("BACKEND", "--backend", "value")],
    ),
    "serve": (
        "scripts.serve",
        [
            ("RUN", "--run", "value"),
            ("PORT", "--port", "value"),
            ("HOST", "--host", "value"),
            ("BACKEND", "--backend", "value"),
        ],
    ),
    "notebook": ("scripts.notebook", []),
    "tensorboard": ("scripts.board", [("PORT", "--port", "value")]),
    "bench": ("bench.bench", [("ROWS", "--rows", "value"), ("ROUNDS", "--rounds", "value")]),
    "experiments": ("bench.experiments", [("SEEDS", "--seeds", "value"), ("ROWS", "--rows", "value")]),
    "gpu-check": ("bench.gpu_check", []),
    "bench-scale": ("bench.scale", [("ROWS", "--rows", "value")]),
    "bench-serve": ("bench.serve", [("RUN", "--run", "value"), ("REQUESTS", "--requests", "value")]),
    "bench-inference": ("bench.inference", [("RUN", "--run", "value"), ("ROWS", "--rows", "value")]),
    "sweep": (
        "scripts.sweep",
        [
            ("TRIALS", "--trials", "value"),
            ("DATA", "--data", "value"),
            ("SET", "--set", "words"),
            ("NAME", "--name", "value"),
            ("RESUME", "--resume", "flag"),
        ],
    ),
    "compare": ("scripts.compare", [("RUNS", "--runs", "value")]),
    "curve": (
        "scripts.curve",
        [
            ("DATA", "--data", "value"),
            ("SIZES", "--sizes", "value"),
            ("DRAWS", "--draws", "value"),
            ("FIRST_DRAW", "--first-draw", "value"),
            ("METHODS", "--methods", "value"),
            ("SET", "--set", "words"),
            ("NAME", "--name", "value"),
        ],
    ),
}


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def flag(variable: str, value: str) -> bool:
    """One reading of every on/off make variable: `INCLUDE_DATA=0` is off, not "set, so on"."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise UserError(
        f"{variable}={value!r} is neither on nor off; use {variable}=1 (or true/yes/on) "
        f"or {variable}=0 (or false/no/off, or leave it out)"
    )


def arguments(target: str, env: Mapping[str, str]) -> list[str]:
    """The entry point's argv for a make target, from the QF_* variables."""
    argv: list[str] = []
    for variable, option, kind in TARGETS[target][1]:
        value = env.get(f"QF_{variable}", "")
        if kind == "flag":
            argv += [option] if flag(variable, value) else []
        elif kind == "words" and value.strip():
            try:
                argv += [option, *shlex.split(value)]
            except ValueError as exc:
                raise UserError(
                    f"{variable}={value!r}: {exc} (an unclosed quote?); quote each value once, "
                    f"e.g. {variable}=\"key='a b'\""
                ) from exc
        elif kind == "joined":  # one argument, --option=VALUE: the value may itself start with "--"
            argv += [f"{option}={value}"] if value.strip() else []
        elif value or kind == "required":
            argv += [option, value]
    return argv + (["--debug"] if flag("DEBUG", env.get("QF_DEBUG", "")) else [])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0] not in TARGETS:
        print(f"usage: python -m scripts.cli {{{','.join(TARGETS)}}}", file=sys.stderr)
        return 2
    module = importlib.import_module(TARGETS[argv[0]][0])
    try:
        args = arguments(argv[0], os.environ)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_cli(module.main, args)


if __name__ == "__main__":
    raise SystemExit(main())
