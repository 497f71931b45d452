"""Entry point: the model card (README.md in the run's model folder), built from what the run recorded.

    python -m scripts.card [--run RUN] [--repo user/name]

Metadata goes through huggingface_hub's ModelCardData / EvalResult, so the Hub can read the model-index;
every number in the text comes from run.json and eval/metrics.json (publishing/card_context.py), and the
text, usage snippets included, is publishing/card_template.md (Jinja, like SetFit's).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

TEMPLATE = Path(__file__).parent / "publishing" / "card_template.md"


def ensure_eval(run_dir: Path, threads: Any = "auto") -> dict[str, Any]:
    """The card reports the evaluation of the run's own test split; run it first if it is missing (or if
    eval/ scores other rows)."""
    report = runs.test_metrics(run_dir)
    if report is None:
        from scripts.evaluate import evaluate

        say("no evaluation of this run's test split yet: running it first")
        report = evaluate(run_dir, threads=threads)
    return report


def render(run_dir: Path, repo_id: str | None = None, license_: str = "apache-2.0") -> ModelCard:
    """The ModelCard of a run: card_template.md filled from the run's records."""
    from huggingface_hub import ModelCard

    from scripts.publishing.card_context import context

    values = context(run_dir, ensure_eval(run_dir), repo_id, license_)
    return ModelCard.from_template(values.pop("card_data"), template_path=str(TEMPLATE), **values)


def write_card(run_dir: Path, repo_id: str | None = None, license_: str = "apache-2.0") -> Path:
    card = render(run_dir, repo_id, license_)
    path = runs.model_dir(run_dir) / "README.md"
    partial = path.with_name(".README.md.partial")
    try:  # built aside and renamed: an interrupt or a full disk never leaves half a card
        card.save(partial)
        os.replace(partial, path)
    except OSError as exc:
        raise UserError(f"could not write {path} ({exc.strerror or exc}); free space and run again") from exc
    finally:
        partial.unlink(missing_ok=True)
    return path


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.card", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument("--repo", help="the Hub repo id the snippets should name (default: the local path)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    run_dir, cfg = runs.find_from_cli(args.run)
    path = write_card(run_dir, args.repo, cfg["license"])
    say(f"model card written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
