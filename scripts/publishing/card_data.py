"""The model card's Hub metadata: ModelCardData with the model-index (EvalResult per headline metric)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.common import tasks
from scripts.model.base_model import hub_base_model

if TYPE_CHECKING:
    from huggingface_hub import ModelCardData

METRIC_NAMES = {
    "accuracy": "Accuracy",
    "f1_positive": "F1 (positive class)",
    "f1_macro": "Macro F1",
    "f1_micro": "Micro F1",
    "f1_weighted": "Weighted F1",
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "mcc": "MCC",
    "balanced_accuracy": "Balanced accuracy",
    "f1_samples": "Samples F1",
    "subset_accuracy": "Subset accuracy",
    "hamming_loss": "Hamming loss",
    "lrap": "LRAP",
    "roc_auc_ovr": "ROC AUC (one-vs-rest)",
    "roc_auc_macro": "ROC AUC (macro)",
    "roc_auc_micro": "ROC AUC (micro)",
    "precision_positive": "Precision (positive class)",
    "recall_positive": "Recall (positive class)",
    "pearson": "Pearson r",
    "spearman": "Spearman rho",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R squared",
}
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}


def millions(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n:,}"


def parameter_count(model_dir: Path) -> int:
    """Parameters in model.safetensors, read from its header (no weights loaded)."""
    import numpy as np
    from safetensors import safe_open

    with safe_open(model_dir / "model.safetensors", "pt") as handle:
        return int(sum(np.prod(handle.get_slice(k).get_shape()) for k in handle.keys()))  # noqa: SIM118 (not a dict)


def card_data(
    record: dict[str, Any], report: dict[str, Any], repo_id: str | None, license_: str
) -> ModelCardData:
    from huggingface_hub import EvalResult, ModelCardData

    ds = record["dataset"]
    model = report["results"]["transformer"]
    kind = tasks.get(record["task"])
    dataset_type = ds.get("hub_dataset") or ds["name"]
    eval_results = [
        EvalResult(
            task_type="text-classification",
            task_name="Text Classification",
            dataset_type=dataset_type,
            dataset_name=ds["name"],
            dataset_split="test",
            dataset_config=ds.get("hub_config"),
            dataset_revision=ds.get("hub_revision") if ds.get("hub_dataset") else None,
            metric_type=kind.hub_metrics.get(key, key),
            metric_name=METRIC_NAMES.get(key, key),
            metric_value=float(model[key]),
        )
        for key in report["headline"]
        if model.get(key) is not None
    ]
    return ModelCardData(
        language=ds.get("language") or "en",
        license=license_,
        library_name="transformers",
        pipeline_tag="text-classification",
        base_model=hub_base_model(record["model"]["base_model"] or ""),
        datasets=[ds["hub_dataset"]] if ds.get("hub_dataset") else None,
        metrics=[kind.hub_metrics.get(k, k) for k in report["headline"] if model.get(k) is not None],
        tags=[
            "text-classification",
            kind.word + "-classification" if kind.classifies else "text-regression",
            *(["sentence-pair-classification", "cross-encoder"] if record.get("text_pair") else []),
            "simpletransformers",
            "quickfit",
        ],
        model_name=(repo_id or record["run"]).split("/")[-1],
        eval_results=eval_results,
    )
