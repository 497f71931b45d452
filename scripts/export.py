"""Entry point: the run's model as ONNX for fast CPU inference without PyTorch, checked against it.

    python -m scripts.export [--run RUN] [--quantize]

Writes outputs/<run>/onnx/: model.onnx (and model_quantized.onnx, int8), the tokenizer files, config.json,
quickfit.json and parity.json. `make predict` then uses it (BACKEND=auto), and `make push` uploads it.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import Parser, run_cli


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.export", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument("--quantize", action="store_true", help="also an int8 copy (kept when faithful)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # the last export stays whole
    run_dir, _ = runs.find_from_cli(args.run)
    from scripts.model.onnx_export import export_run

    export_run(run_dir, args.quantize, runs.threads_here(run_dir))
    say(f"wrote {run_dir / 'onnx'}/ ; make predict now runs on ONNX Runtime (BACKEND=torch for PyTorch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
