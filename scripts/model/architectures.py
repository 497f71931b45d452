"""Which encoder architectures quickfit trains, and how it names them.

`model_type` is read from the base model's config.json (`auto`, the default), so a user sets
`model_name` alone. Both spellings are understood: Hugging Face's (`deberta-v2`, `xlm-roberta`)
and Simple Transformers' (`debertav2`, `xlmroberta`). Every architecture listed here is trained
binary, multi-class and multi-label in the test suite.
"""

from __future__ import annotations

import json
from pathlib import Path

from scripts.common.errors import UserError

# Hugging Face config `model_type` -> the Simple Transformers model type its single-label class uses.
# Multi-label always uses transformers' own head (see training/fit.py), so every row here has all three tasks.
SIMPLE_TRANSFORMERS_TYPE = {
    "bert": "bert",
    "distilbert": "distilbert",
    "roberta": "roberta",
    "xlm-roberta": "xlmroberta",
    "electra": "electra",
    "deberta-v2": "debertav2",  # DeBERTa-v3 checkpoints are deberta-v2 in their config.json
    "modernbert": "auto",  # Simple Transformers knows ModernBERT only through `auto`
}
ALIASES = {
    "xlmroberta": "xlm-roberta",
    "debertav2": "deberta-v2",
    "deberta-v3": "deberta-v2",
    "debertav3": "deberta-v2",
    "modern-bert": "modernbert",
}
SUPPORTED = tuple(SIMPLE_TRANSFORMERS_TYPE)


def canonical(model_type: str) -> str:
    """A spelling of an architecture -> its Hugging Face name; `auto` stays `auto`."""
    name = str(model_type).strip().lower().replace("_", "-")
    name = ALIASES.get(name, name)
    if name != "auto" and name not in SIMPLE_TRANSFORMERS_TYPE:
        raise UserError(
            f"model_type={model_type!r} is not supported; use auto (read from the model's config.json) "
            f"or one of {', '.join(SUPPORTED)}"
        )
    return name


def read_model_config(resolved_name: str, offline: bool) -> dict:
    """config.json of a local folder or a Hub model (downloaded alone, before anything else)."""
    path = Path(resolved_name)
    if path.is_dir():
        config_file = path / "config.json"
    else:
        from huggingface_hub import hf_hub_download

        try:
            config_file = Path(hf_hub_download(resolved_name, "config.json", local_files_only=offline))
        except Exception as exc:  # every way a Hub load fails becomes one line
            raise hub_model_error(resolved_name, exc) from exc
    try:
        return json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(
            f"{config_file} is not valid JSON ({exc.__class__.__name__}); give a complete model folder"
        ) from exc


def hub_model_error(name: str, exc: Exception) -> UserError:
    from scripts.common.hub_errors import hub_error

    return hub_error(exc, f"model {name!r}", "check model_name")


def resolve(requested: str, resolved_name: str, offline: bool = False) -> str:
    """The architecture to train: config.json's model_type, checked against the requested one."""
    wanted = canonical(requested)
    found = read_model_config(resolved_name, offline).get("model_type")
    if not found:
        raise UserError(
            f"config.json of {resolved_name!r} names no model_type; give a model saved by save_pretrained"
        )
    actual = ALIASES.get(str(found).lower(), str(found).lower())
    if actual not in SIMPLE_TRANSFORMERS_TYPE:
        raise UserError(
            f"{resolved_name!r} is a {found!r} model, which quickfit does not train; "
            f"supported architectures: {', '.join(SUPPORTED)}"
        )
    if wanted != "auto" and wanted != actual:
        raise UserError(
            f"model_type={requested!r} but {resolved_name!r} is a {found!r} model (its config.json); "
            "set model_type=auto or the model's own type"
        )
    return actual


def simpletransformers_type(architecture: str) -> str:
    return SIMPLE_TRANSFORMERS_TYPE[ALIASES.get(architecture, architecture)]
