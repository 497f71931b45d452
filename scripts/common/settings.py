"""config.py + KEY=VALUE overrides -> one validated, flat config dict.

Overrides are parsed with ast.literal_eval, must match the type of the default, and an unknown
key is an error that suggests the closest valid key (nanoGPT's configurator, without exec).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scripts.common.errors import UserError
from scripts.common.runtime import PRECISIONS
from scripts.common.tasks import TASKS
from scripts.model.architectures import canonical as canonical_model_type
from scripts.model.truncation import SETTINGS as TRUNCATION_SETTINGS
from scripts.model.windows import SETTINGS as LONG_TEXT_SETTINGS

RUN_NAME = re.compile(r"(?!latest\Z)[\w\-+()][\w .\-+()]{0,99}")  # used with fullmatch: no trailing newline
SECTIONS = ("DATA", "MODEL", "ARGS", "BALANCE", "SPLIT", "EVALUATION", "OUTPUT", "HUB", "ADVANCED")

# Keys whose default is "auto" (or a string) but which also take these types.
AUTO_NUMBERS: dict[str, tuple[type, ...]] = {
    "max_seq_length": (int,),
    "threads": (int,),
    "num_train_epochs": (int,),
    "learning_rate": (float, int),
    "train_batch_size": (int,),
    "warmup_ratio": (float, int),
    "window_overlap": (int,),
}
ALSO_ALLOWED: dict[str, tuple[type, ...]] = {
    **AUTO_NUMBERS,
    "text_column": (list,),
    "text_pair": (bool,),
    "label_column": (list,),
    "positive_label": (int,),
    "length_grouping": (bool,),
    "grouping_class_mix": (bool,),
    "sub_batches": (bool,),
    "tune_binary_threshold": (bool,),
    "use_early_stopping": (bool,),
    "probe_start": (bool,),
    "probe_candidate": (bool,),
    "swap_pairs": (bool,),
}
BOOL_OR_AUTO = {key for key, types in ALSO_ALLOWED.items() if types == (bool,)}
CHOICES: dict[str, tuple[Any, ...]] = {
    "task": ("auto", *TASKS),  # every task kind quickfit has (scripts/common/tasks)
    "balance": ("auto", "none", "class_weight", "oversample", "undersample", "pos_weight"),
    "precision": PRECISIONS,
    "report_to": ("none", "wandb", "mlflow"),
    "dedupe": ("exact", "near", "none"),
    "truncation": TRUNCATION_SETTINGS,
    "long_texts": LONG_TEXT_SETTINGS,
    "model_selection": ("auto", "validation", "kfold"),
}
POSITIVE = {
    "num_train_epochs",
    "learning_rate",
    "train_batch_size",
    "eval_batch_size",
    "max_seq_length",
    "max_seq_length_cap",
    "gradient_accumulation_steps",
    "max_grad_norm",
    "threads",
    "balance_ratio",
    "pos_weight_cap",
    "verify_rows",
}
NON_NEGATIVE = {
    "window_overlap",
    "warmup_ratio",
    "weight_decay",
    "early_stopping_patience",
    "max_train_rows",
    "manual_seed",
}
FRACTIONS = {"validation_size", "test_size", "warmup_ratio", "balance_ratio"}
# Lower bounds beyond "positive", and upper bounds, with the reason a user reads.
AT_LEAST = {
    "max_seq_length": (8, "shorter sequences hold almost nothing but the special tokens"),
    "max_seq_length_cap": (8, "shorter sequences hold almost nothing but the special tokens"),
}
AT_MOST = {
    "learning_rate": (1.0, "fine-tuning rates are around 1e-5 to 1e-4"),
    "manual_seed": (2**32 - 1, "numpy takes seeds below 2**32"),
    "max_grad_norm": (1e6, "use a finite clipping norm such as 1.0"),
}
# Strings that must say something (an empty separator or delimiter splits nothing).
NON_EMPTY = {
    "dataset",
    "text_column",
    "label_column",
    "separator",
    "encoding",
    "label_delimiter",
    "model_type",
    "model_name",
    "outputs_dir",
    "run_name",
    "license",
    "positive_label",
}


def defaults(config_module: str = "scripts.config") -> dict[str, dict[str, Any]]:
    """The dicts of config.py, by section, freshly imported."""
    module = importlib.import_module(config_module)
    return {name: dict(getattr(module, name)) for name in SECTIONS}


def flat_defaults(config_module: str = "scripts.config") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, values in defaults(config_module).items():
        for key, value in values.items():
            if key in flat:
                raise RuntimeError(f"config key {key!r} appears twice ({section})")
            flat[key] = value
    return flat


def parse_value(raw: str) -> Any:
    """'3' -> 3, '5e-5' -> 5e-05, '[a,b]' stays a str unless quoted, 'v2' -> 'v2'."""
    if raw == "\\t":
        return "\t"
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        if raw.startswith("[") and raw.endswith("]"):  # [a,b] after the shell ate the quotes
            return [item.strip().strip("'\"") for item in raw[1:-1].split(",") if item.strip()]
        return raw


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """["a=1", "b=x"] (or one string "a=1 b=x" split by the Makefile) -> {"a": 1, "b": "x"}."""
    overrides: dict[str, Any] = {}
    for item in items:
        if item.startswith("@"):  # @best.json: a saved configuration (a sweep's best.json, or a flat dict)
            overrides.update(load_saved_overrides(item[1:]))
            continue
        if "=" not in item:
            raise UserError(f'override {item!r} is not KEY=VALUE; write e.g. SET="num_train_epochs=3"')
        key, raw = item.split("=", 1)
        overrides[key.strip()] = parse_value(raw.strip())
    return overrides


def load_saved_overrides(path: str) -> dict[str, Any]:
    """The overrides in a JSON file: {"params": {...}} (make sweep's best.json) or a flat {key: value}."""
    import json
    from pathlib import Path

    try:
        saved = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise UserError(
            f"SET=@{path}: cannot read it as JSON ({exc.__class__.__name__}); give the path of a "
            "best.json written by make sweep"
        ) from exc
    params = saved.get("params", saved) if isinstance(saved, dict) else None
    if isinstance(params, dict) and any(isinstance(v, dict) for v in params.values()):
        raise UserError(f"SET=@{path}: values must be plain (numbers, strings, lists), not nested objects")
    if not isinstance(params, dict):
        raise UserError(f'SET=@{path}: expected a JSON object of config keys (or best.json\'s "params")')
    return params


def _check_type(key: str, value: Any, default: Any) -> Any:
    allowed = (type(default),) + ALSO_ALLOWED.get(key, ())
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{key}={value!r}: give a finite number")
    if int in allowed and float not in allowed and isinstance(value, float):
        if not value.is_integer():
            raise UserError(f"{key}={value!r}: give a whole number")
        value = int(value)
    if float in allowed and int not in allowed and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) != isinstance(default, bool) and bool not in allowed:
        raise UserError(f"{key}={value!r}: {key} takes {takes(key, default)}")
    if not isinstance(value, allowed):
        raise UserError(f"{key}={value!r}: {key} takes {takes(key, default)}")
    return value


WORDS = {int: "a whole number", float: "a number", bool: "True or False", list: "a list", str: "a text"}


def takes(key: str, default: Any) -> str:
    """What a key takes, in words: `num_train_epochs` takes a whole number or auto."""
    if key in AUTO_NUMBERS:
        return f"{'a whole number' if AUTO_NUMBERS[key] == (int,) else 'a number'} or auto"
    if key in BOOL_OR_AUTO:
        return "True, False or auto"
    if key in CHOICES:
        return "one of " + ", ".join(map(str, CHOICES[key]))
    kinds = [type(default), *ALSO_ALLOWED.get(key, ())]
    if float in kinds and int not in kinds:
        kinds.append(int)
    words = list(dict.fromkeys(WORDS.get(t, t.__name__) for t in kinds if not (t is int and float in kinds)))
    return " or ".join(words) + f" (default {default!r})"


def _check_value(key: str, value: Any) -> None:
    if key in CHOICES and value not in CHOICES[key]:
        raise UserError(f"{key}={value!r}: choose one of {', '.join(map(str, CHOICES[key]))}")
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if is_number and key in POSITIVE and value <= 0:
        raise UserError(f"{key}={value!r}: must be greater than 0")
    if is_number and key in NON_NEGATIVE and value < 0:
        raise UserError(f"{key}={value!r}: must be 0 or more")
    if is_number and key in FRACTIONS and not 0 <= value < 1:
        raise UserError(f"{key}={value!r}: must be a fraction in [0, 1)")
    if is_number and key in AT_LEAST and value < AT_LEAST[key][0]:
        raise UserError(f"{key}={value!r}: must be at least {AT_LEAST[key][0]} ({AT_LEAST[key][1]})")
    if is_number and key in AT_MOST and value > AT_MOST[key][0]:
        bound = AT_MOST[key][0]
        raise UserError(
            f"{key}={value!r}: must be at most {bound if isinstance(bound, int) else f'{bound:g}'} "
            f"({AT_MOST[key][1]})"
        )
    whitespace_ok = key in ("separator", "label_delimiter")  # a tab or a space is a real separator
    if key in NON_EMPTY and isinstance(value, str) and not (value if whitespace_ok else value.strip()):
        raise UserError(f"{key}={value!r}: must not be empty; give a value or leave the default")
    if key == "run_name" and value != "auto" and not RUN_NAME.fullmatch(value):
        raise UserError(
            f"run_name={value!r}: use a plain folder name (letters, digits, . _ - and spaces, up to "
            "100 characters, not starting with a dot, not 'latest')"
        )
    if key == "encoding" and value != "auto":
        _check_encoding(value)
    if key == "separator" and value != "auto" and len(value) != 1 and value != "\\t":
        raise UserError(
            f"separator={value!r}: give one character (',' ';' '|' or a tab) or auto; a separator is never "
            "a pattern"
        )
    if key == "column_names" and (
        not all(isinstance(v, str) and v.strip() for v in value) or len(set(value)) != len(value)
    ):
        raise UserError(f"column_names={value!r}: give distinct, non-empty names, one per column")
    if key in BOOL_OR_AUTO and isinstance(value, str) and value != "auto":
        raise UserError(f"{key}={value!r}: give True, False or auto")
    if key in AUTO_NUMBERS and isinstance(value, str) and value != "auto":
        kind = "a whole number" if AUTO_NUMBERS[key] == (int,) else "a number"
        raise UserError(f"{key}={value!r}: give {kind} or auto")
    if (
        key in ("text_column", "label_column")
        and isinstance(value, list)
        and (not value or not all(isinstance(v, str) for v in value))
    ):
        raise UserError(f"{key}={value!r}: give a column name or a list of column names")


def _check_encoding(value: str) -> None:
    """A text codec Python knows (utf-16, cp1252 ...); rot13, base64 or hex are codecs but not text ones."""
    import codecs

    try:
        info = codecs.lookup(value)
    except LookupError as exc:
        raise UserError(
            f"encoding={value!r} is not a codec Python knows; give e.g. utf-8, cp1252 or auto"
        ) from exc
    if not getattr(info, "_is_text_encoding", True):
        raise UserError(f"encoding={value!r} is not a text encoding; give e.g. utf-8, utf-16, cp1252 or auto")


def resolve(
    overrides: Mapping[str, Any] | None = None, config_module: str = "scripts.config"
) -> dict[str, Any]:
    """Defaults from config.py, then overrides; every value type- and range-checked."""
    config = flat_defaults(config_module)
    for key, value in (overrides or {}).items():
        if key not in config:
            close = difflib.get_close_matches(key, config.keys(), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UserError(f"unknown config key {key!r}: {hint}valid keys: {', '.join(sorted(config))}")
        config[key] = _check_type(key, value, config[key])
    for key, value in config.items():
        _check_value(key, value)
    config["model_type"] = canonical_model_type(config["model_type"])
    if config["validation_size"] + config["test_size"] >= 0.9:
        raise UserError("validation_size + test_size leave under 10 % for training; lower them")
    return config


def by_section(config: Mapping[str, Any], config_module: str = "scripts.config") -> dict[str, dict[str, Any]]:
    """The flat config regrouped under config.py's section names, for saving and the card."""
    return {
        section: {key: config[key] for key in values} for section, values in defaults(config_module).items()
    }


def changed_from_defaults(config: Mapping[str, Any], config_module: str = "scripts.config") -> dict[str, Any]:
    """The keys whose value differs from config.py: the overrides that reproduce this config."""
    base = flat_defaults(config_module)
    return {k: v for k, v in config.items() if k in base and base[k] != v}


def resolve_from_cli(data: str | None, items: Sequence[str], name: str | None) -> tuple[dict[str, Any], str]:
    """DATA= and SET= -> the resolved config, and the folder name of a sweep or a curve (NAME=, else the
    dataset's name made a plain folder name)."""
    from scripts.common.runs import folder_name_from

    overrides = parse_overrides(items)
    if data:
        overrides["dataset"] = data
    config = resolve(overrides)
    name = name or folder_name_from(config["dataset"])
    if not RUN_NAME.fullmatch(name):
        raise UserError(f"NAME={name!r}: use a plain folder name (letters, digits, . _ -)")
    return config, name
