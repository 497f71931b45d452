"""TensorBoard over every run in outputs/, on a port checked first.

python -m scripts.board [--port 6006]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from scripts.common.errors import Parser, run_cli
from scripts.common.ports import DEFAULTS, check_port_free, parse_port

HOST = "127.0.0.1"  # this machine only


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.board", description=__doc__.splitlines()[0])
    parser.add_argument("--port", default=str(DEFAULTS["tensorboard"]))
    args = parser.parse_args(argv)
    port = parse_port(args.port, "tensorboard")
    check_port_free(HOST, port, "tensorboard")
    from tensorboard import main as tensorboard_main

    sys.argv = ["tensorboard", "--logdir", "outputs", "--host", HOST, "--port", str(port)]
    tensorboard_main.run_main()
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
