"""Entry point: execute notebooks/walkthrough.ipynb top to bottom into outputs/walkthrough.ipynb.

python -m scripts.notebook [--output PATH] [--timeout SECONDS]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.data.sources import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "walkthrough.ipynb"


def execute(output: Path, timeout: int = 1800) -> Path:
    """Run every cell (any error stops it) and save the executed copy."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(PROJECT_ROOT / "notebooks")}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        raise UserError(f"the notebook failed in a cell: {str(exc).strip().splitlines()[-1][:300]}") from exc
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, output)
    return output


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.notebook", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(PROJECT_ROOT / "outputs" / "walkthrough.ipynb"))
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    path = execute(Path(args.output), args.timeout)
    say(f"executed notebook written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
