"""Entry point: push a run's model to the Hugging Face Hub, then prove the Hub copy predicts like the
local one.

    python -m scripts.push --repo user/name [--run RUN] [--private] [--dry-run] [--include-data]

Only an allow-list is pushed (weights as safetensors, config, tokenizer, label map and thresholds,
the card, eval metrics and plots); never checkpoints, optimizer states, logs, caches, the training
data (unless asked) or a token. The token comes from HF_TOKEN or `huggingface-cli login` and is
never printed or written.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common import runs, tasks
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.model.base_model import MODEL_FILES, hub_base_model

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
TOKEN_PATTERN = re.compile(rb"hf_[A-Za-z0-9]{20,}")
EVAL_FILES = (
    "metrics.json",
    "confusion_matrix.png",
    "roc_pr.png",
    "per_class_f1.png",
    "thresholds.png",
    "reliability.png",
)


def check_repo_id(repo_id: str) -> str:
    bad = ".." in (repo_id or "") or "--" in (repo_id or "") or (repo_id or "").endswith((".git", "-", "."))
    if not REPO_ID.fullmatch(repo_id or "") or bad:
        raise UserError(
            f"REPO={repo_id!r} is not a Hub repo id; write it as user/name (letters, digits, - _ .), "
            "e.g. REPO=me/sms-spam-minilm"
        )
    return repo_id


def find_token() -> str:
    from huggingface_hub import get_token

    token = os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise UserError(
            "no Hugging Face token: run `huggingface-cli login` or export HF_TOKEN=<a write token from "
            "https://huggingface.co/settings/tokens>"
        )
    token = token.strip()
    if not token.isascii() or any(c.isspace() for c in token):
        raise UserError(
            "the Hugging Face token holds spaces or non-ASCII characters (a copy-paste slip?); copy it "
            "again from https://huggingface.co/settings/tokens"
        )
    return token


def endpoint() -> str | None:
    """HF_ENDPOINT read at call time (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def stage(run_dir: Path, target: Path, include_data: bool = False) -> list[Path]:
    """Copy exactly the allow-listed files into `target`; returns them (relative paths)."""
    picked: list[tuple[Path, str]] = [
        (runs.model_dir(run_dir) / name, name) for name in MODEL_FILES + ("README.md",)
    ]
    picked += [(run_dir / "eval" / name, f"eval/{name}") for name in EVAL_FILES]
    picked += [(run_dir / "training_curve.png", "eval/training_curve.png")]
    # the ONNX export (make export), where Optimum and transformers.js look for it: only an export of
    # exactly this model (a stale or foreign onnx/ is refused, never uploaded as this model)
    if (run_dir / "onnx" / "model.onnx").exists():
        from scripts.model.meta import check_bound

        check_bound(run_dir / "onnx", runs.model_dir(run_dir))
        picked += [
            (run_dir / "onnx" / name, f"onnx/{name}")
            for name in ("model.onnx", "model_quantized.onnx", "parity.json")
        ]
    if include_data:
        picked += [(runs.split_path(run_dir, s), f"data/{s}.csv") for s in ("train", "validation", "test")]
    staged = []
    for src, rel in picked:
        if src.is_symlink():  # staging would copy what the link points to, wherever that is
            raise UserError(
                f"{src.relative_to(run_dir)} is a symbolic link; push copies real files only: replace it "
                "with the file itself (nothing was pushed)"
            )
        if src.exists():
            dst = target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            staged.append(Path(rel))
    if Path("model.safetensors") not in staged:
        raise UserError(
            f"{run_dir}/model has no model.safetensors; train again (quickfit saves safetensors only)"
        )
    return staged


def scan_for_secrets(folder: Path, token: str | None) -> None:
    """Refuse to push anything that carries the token or looks like a Hugging Face token."""
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            if (token and token.encode() in content) or TOKEN_PATTERN.search(content):
                raise UserError(
                    f"{path.relative_to(folder)} contains what looks like a Hugging Face token; "
                    "nothing was pushed. Remove it and push again"
                )


def _hub_error(exc: Exception, repo_id: str) -> UserError:
    """One clear line for the ways a push fails."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 401:
            return UserError(
                "the Hub rejected the token (401): check HF_TOKEN or run `huggingface-cli login` again"
            )
        if status == 403:
            return UserError(
                f"the token may not write to {repo_id} (403): use a token with write access to that namespace"
            )
        if status == 404:
            return UserError(
                f"{repo_id} was not found on the Hub (404): check the repo id and the token's namespace"
            )
        return UserError(f"the Hub answered {status} for {repo_id}; try again later")
    from scripts.common.hub_errors import is_network

    if is_network(exc) or isinstance(exc, OSError):
        return UserError(
            f"could not reach the Hub ({endpoint() or 'huggingface.co'}): check the network and "
            "HF_ENDPOINT, then push again"
        )
    return UserError(f"push to {repo_id} failed: {str(exc).splitlines()[0]}")


def verify(run_dir: Path, repo_id: str, token: str, n_rows: int) -> dict[str, Any]:
    """Download the pushed files, load them, compare labels and probabilities with the local model."""
    from huggingface_hub import snapshot_download

    from scripts.data.dataset import load_split
    from scripts.model.inference import load_predictor

    record = runs.read_record(run_dir)
    test = load_split(runs.split_path(run_dir, "test"), record["task"]).head(n_rows)
    local = load_predictor(runs.model_dir(run_dir))
    texts = tasks.inputs_of(local.meta).rows(test)
    local_probs = local.predict_proba(texts)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(snapshot_download(repo_id, local_dir=tmp, token=token, endpoint=endpoint()))
        result = _compare(local, local_probs, load_predictor(folder), texts, repo_id, 1e-5)
        if (run_dir / "onnx" / "model.onnx").exists():  # the ONNX copy, through the ONNX Runtime path
            from scripts.model.onnx_export import FP32_TOLERANCE
            from scripts.model.onnx_predictor import load_onnx_predictor

            onnx = load_onnx_predictor(folder)
            result["onnx"] = _compare(local, local_probs, onnx, texts, f"{repo_id} (ONNX)", FP32_TOLERANCE)
    return result


def _compare(local, local_probs, remote, texts: list[str], what: str, tolerance: float) -> dict[str, Any]:
    from scripts.model.prediction import agreeing

    remote_probs = remote.predict_proba(texts)
    same = int(agreeing(local, local_probs, remote_probs).sum())
    size = 1.0 if local.kind.classifies else np.maximum(np.abs(local_probs).max(axis=0), 1.0)
    diff = float((np.abs(local_probs - remote_probs) / size).max()) if texts else 0.0
    if same != len(texts) or diff > tolerance:
        raise UserError(
            f"verification failed: the Hub copy of {what} predicts differently ({same}/{len(texts)} "
            f"labels equal, max probability difference {diff:.2e}); check the pushed files"
        )
    return {"rows": len(texts), "identical_labels": same, "max_probability_difference": diff}


def push(
    run_dir: Path,
    repo_id: str,
    private: bool = False,
    dry_run: bool = False,
    include_data: bool = False,
    license_: str = "apache-2.0",
    verify_rows: int = 32,
) -> dict[str, Any]:
    from scripts.card import write_card

    check_repo_id(repo_id)
    token = None if dry_run else find_token()
    write_card(run_dir, repo_id, license_)
    record = runs.read_record(run_dir)
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        staged = stage(run_dir, staging, include_data)
        scan_for_secrets(staging, token)
        listing = [(str(p), (staging / p).stat().st_size) for p in staged]
        if dry_run:
            return {"dry_run": True, "files": listing}
        from huggingface_hub import HfApi

        api = HfApi(endpoint=endpoint(), token=token)
        base = hub_base_model(record["model"]["base_model"] or "")
        try:
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            commit = api.upload_folder(
                repo_id=repo_id,
                folder_path=staging,
                repo_type="model",
                commit_message=f"quickfit: upload run {record['run']}",
                commit_description=f"Fine-tuned {base or 'a local base model'} on "
                f"{record['dataset']['name']} ({record['task']}).",
            )
            checked = verify(run_dir, repo_id, token, verify_rows)
        except UserError:
            raise
        except Exception as exc:  # network and HTTP errors of several libraries
            raise _hub_error(exc, repo_id) from exc
    return {"dry_run": False, "files": listing, "commit": str(commit), "verify": checked}


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.push", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="user/name on the Hub")
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument(
        "--dry-run", action="store_true", help="build the card and list the files; no network, no token"
    )
    parser.add_argument(
        "--include-data", action="store_true", help="also push the train/validation/test splits"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stop removes the staged copy too
    check_repo_id(args.repo)
    run_dir, cfg = runs.find_from_cli(args.run)
    result = push(
        run_dir,
        args.repo,
        args.private,
        args.dry_run,
        args.include_data or cfg["push_training_data"],
        cfg["license"],
        cfg["verify_rows"],
    )
    verb = "would push" if result["dry_run"] else "pushed"
    say(f"{verb} {len(result['files'])} files to {args.repo}:")
    for name, size in result["files"]:
        print(f"  {size:>12,d}  {name}")
    if not result["dry_run"]:
        v = result["verify"]
        say(f"commit {result['commit']}")
        say(
            f"verified: the Hub copy gives {v['identical_labels']}/{v['rows']} identical labels, "
            f"max probability difference {v['max_probability_difference']:.1e}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
