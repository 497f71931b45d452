"""Experiment trackers beyond TensorBoard (which every run writes): Weights & Biases or MLflow, on request.

report_to=wandb uses Simple Transformers' own W&B logging (every step's loss and learning rate, each
epoch's validation metrics); report_to=mlflow logs the run's parameters and per-epoch history when
training ends. Both are off by default and checked before any data is read: a run that cannot log
fails in one line instead of stopping at a login prompt nobody answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from scripts.common.errors import UserError

CHOICES = ("none", "wandb", "mlflow")


def check(report_to: str) -> None:
    """Refuse now what would fail or hang later."""
    if report_to == "wandb":
        offline = os.environ.get("WANDB_MODE") in ("offline", "dryrun")
        if not (offline or os.environ.get("WANDB_API_KEY") or _wandb_logged_in() or sys.stdin.isatty()):
            raise UserError(
                "report_to=wandb needs a W&B key: set WANDB_API_KEY (or run `wandb login`, or set "
                "WANDB_MODE=offline); a run without a terminal never waits at a login prompt"
            )
    if report_to == "mlflow":
        try:
            import mlflow  # noqa: F401
        except ImportError as exc:
            raise UserError(
                "report_to=mlflow needs the mlflow package, which quickfit does not install: "
                ".venv/bin/pip install mlflow (or set report_to=none)"
            ) from exc


def _wandb_logged_in() -> bool:
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    return netrc.exists() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def simpletransformers_args(report_to: str, run_name: str, work: Path) -> dict[str, Any]:
    """The Simple Transformers args that turn its W&B logging on (and keep W&B's files in the run)."""
    if report_to != "wandb":
        return {"wandb_project": None}
    from scripts.common.runtime import QUIETED

    if "WANDB_MODE" in QUIETED:  # quickfit disabled W&B for quiet runs; the user asked for it here
        os.environ.pop("WANDB_MODE", None)
    os.environ.setdefault("WANDB_DIR", str(work))
    return {"wandb_project": os.environ.get("WANDB_PROJECT", "quickfit"), "wandb_kwargs": {"name": run_name}}


def log_mlflow(report_to: str, record: dict[str, Any], history: Any, flat: dict[str, Any]) -> None:
    """The finished run in MLflow: parameters, the per-epoch history, the best validation score."""
    if report_to != "mlflow":
        return
    import mlflow

    from scripts.common.runs import outputs_dir

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri((outputs_dir(flat) / "mlruns").resolve().as_uri())
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "quickfit"))
    with mlflow.start_run(run_name=record["run"]):
        mlflow.log_params({k: str(v)[:250] for k, v in flat.items()})
        for _, row in history.iterrows():
            mlflow.log_metrics(
                {k: float(v) for k, v in row.items() if k != "epoch" and _number(v)}, step=int(row["epoch"])
            )
        mlflow.log_metric(f"best_validation_{record['selection_metric']}", float(record["validation_best"]))


def _number(value: Any) -> bool:
    try:
        return float(value) == float(value)
    except (TypeError, ValueError):
        return False
