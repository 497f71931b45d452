"""make gpu-check: the GPU path end to end on one CUDA card, with the figures written to bench/GPU.md.

    python -m bench.gpu_check [--data sms_spam] [--model packaged-minilm] [--out bench/GPU.md]

On a CUDA machine it trains the default run in bf16 (where the card has it) and in fp16, the fp16
run from a base model saved in fp16 (master weights must still be fp32), interrupts an fp16 run with
SIGTERM after its first epoch checkpoint and resumes it (GradScaler state restored), trains once under
torchrun with one rank (`make train NPROC=1`: DistributedDataParallel over nccl), predicts the test split
on the GPU, and writes the card's name with every figure. Without a GPU it prints one line and
exits 0; `--cpu` runs the same sequence in fp32 on the CPU (the test suite does, with a tiny model).
Needs the data and base model on disk (a GPU box may have no network): carry `data/` with it.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent


def half_precision_copy(model_name: str, target: Path) -> Path:
    """The base model saved in fp16, as some Hub checkpoints are."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from scripts.model.base_model import resolve_model_name

    source = resolve_model_name(model_name)
    AutoModel.from_pretrained(source, dtype=torch.float16).save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


def train_command(
    data: str,
    model: str,
    out: Path,
    name: str,
    precision: str,
    extra: Sequence[str],
    launch: Sequence[str] = (),
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scripts.train",
        "--data",
        data,
        *launch,
        "--set",
        f"model_name={model}",
        f"outputs_dir={out}",
        f"run_name={name}",
        f"precision={precision}",
        *extra,
    ]


def run_train(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"gpu-check: training failed ({' '.join(cmd[3:])}):\n{done.stdout[-1500:]}{done.stderr[-1500:]}"
        )
    return time.perf_counter() - start


def interrupt_after_first_epoch(cmd: list[str], work: Path) -> dict[str, Any]:
    """SIGTERM once the first epoch is checkpointed and scored; report what the checkpoint holds."""
    from scripts.training.checkpoints import last_checkpoint

    proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while not (work / "checkpoints").exists() or not last_checkpoint(work / "checkpoints"):
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit(
                f"gpu-check: the run ended before it could be interrupted:\n{proc.stdout.read()[-1500:]}"
            )
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    checkpoint = next(work.glob("checkpoints/checkpoint-*-epoch-1"))
    return {
        "exit_code": proc.returncode,
        "says_resume": "RESUME=1" in output,
        "scaler_state_saved": (checkpoint / "scaler.json").exists(),
    }


def describe(run: Path) -> dict[str, Any]:
    from scripts import evaluate
    from scripts.common import runs

    record = runs.read_record(run)
    report = evaluate.evaluate(run)
    headline = "f1_positive" if record["task"] == "binary" else "f1_macro"
    return {
        "run": run.name,
        "precision": record["precision"],
        "train_seconds": record["train_seconds"],
        "best_epoch": record["best_epoch"],
        "validation": round(record["validation_best"], 4),
        "test_metric": headline,
        "test": round(report["results"]["transformer"][headline], 4),
    }


def weights_dtype(run: Path) -> str:
    from safetensors import safe_open

    with safe_open(run / "model" / "model.safetensors", "pt") as handle:
        return str(handle.get_tensor(next(iter(handle.keys()))).dtype)


def write_report(
    path: Path,
    device: str,
    runs_: list[dict[str, Any]],
    resume: dict[str, Any],
    predict: dict[str, Any],
    command: str,
) -> None:
    lines = [
        f"# GPU check on {device}",
        "",
        f"Command: `{command}`",
        "",
        "| run | precision | base weights | train s | best epoch | validation | test |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs_:
        lines.append(
            f"| {r['run']} | {r['precision']} | {r['base']} (saved {r['saved_dtype']}) | "
            f"{r['train_seconds']} | "
            f"{r['best_epoch']} | {r['validation']} | {r['test_metric']} {r['test']} |"
        )
    lines += [
        "",
        f"Interrupt and resume ({resume['precision']}): SIGTERM after epoch 1 -> exit {resume['exit_code']}, "
        f"scaler state in the checkpoint: {resume['scaler_state_saved']}; `RESUME=1` finished in "
        f"{resume['resume_seconds']:.0f} s, test {resume['test_metric']} {resume['test']}.",
        "",
        f"Prediction on {device}: {predict['rows']} test rows in {predict['seconds']:.2f} s "
        f"({predict['rows'] / max(predict['seconds'], 1e-9):.0f} rows/s, model loading included).",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sms_spam")
    parser.add_argument("--model", default="packaged-minilm")
    parser.add_argument("--out", default=str(PROJECT / "bench" / "GPU.md"))
    parser.add_argument("--work", default=str(PROJECT / "outputs" / "gpu-check"))
    parser.add_argument("--set", nargs="*", default=[], help="extra overrides for every run")
    parser.add_argument(
        "--cpu", action="store_true", help="run the sequence in fp32 on the CPU (a test of the script)"
    )
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available() and not args.cpu:
        print(
            f"gpu-check skipped: no CUDA GPU is visible here (torch {torch.__version__}); run `make "
            "gpu-check` "
            "on a machine with one"
        )
        return 0
    from scripts import predict as predict_lib
    from scripts.common import runs as runs_lib
    from scripts.common.runtime import gpu_name

    work = Path(args.work)
    if work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True)
    cuda = torch.cuda.is_available() and not args.cpu
    precisions = (["bf16", "fp16"] if torch.cuda.is_bf16_supported() else ["fp16"]) if cuda else ["fp32"]
    device = gpu_name() if cuda else "CPU (fp32 rehearsal, no GPU)"
    half_base = str(half_precision_copy(args.model, work / "base-fp16"))
    results = []
    for precision in precisions:
        base = half_base if precision != "bf16" else args.model
        seconds = run_train(train_command(args.data, base, work / "runs", precision, precision, args.set))
        run = work / "runs" / precision
        results.append(
            {
                **describe(run),
                "base": "fp16 copy" if base == half_base else args.model,
                "saved_dtype": weights_dtype(run),
                "wall_seconds": round(seconds, 1),
            }
        )
    # the one-GPU path under torchrun: DistributedDataParallel over nccl (gloo on the CPU) with one rank
    launched = precisions[0]
    seconds = run_train(
        train_command(args.data, args.model, work / "runs", "torchrun", launched, args.set, ["--nproc", "1"])
    )
    run = work / "runs" / "torchrun"
    results.append(
        {
            **describe(run),
            "base": f"{args.model}, `make train NPROC=1` (torchrun, DDP over "
            f"{runs_lib.read_record(run)['distributed']['backend']})",
            "saved_dtype": weights_dtype(run),
            "wall_seconds": round(seconds, 1),
        }
    )
    last = precisions[-1]
    resume_cmd = train_command(
        args.data,
        half_base,
        work / "resume",
        "resumed",
        last,
        [*args.set, "num_train_epochs=3", "use_early_stopping=False"],
    )
    resume = {
        "precision": last,
        **interrupt_after_first_epoch(resume_cmd, work / "resume" / ".incomplete" / "resumed"),
    }
    resume["resume_seconds"] = run_train(
        [sys.executable, "-m", "scripts.train", "--resume", "--set", f"outputs_dir={work / 'resume'}"]
    )
    resume.update(
        {k: v for k, v in describe(work / "resume" / "resumed").items() if k in ("test_metric", "test")}
    )
    run = work / "runs" / last
    start = time.perf_counter()
    done = predict_lib.predict_file(run, run / "splits" / "test.csv", work / "test.predictions.csv")
    predicted = {"rows": done["rows"], "seconds": time.perf_counter() - start}
    command = "python -m bench.gpu_check " + " ".join(sys.argv[1:] if argv is None else argv)
    write_report(Path(args.out), device, results, resume, predicted, command)
    print(json.dumps({"device": device, "runs": results, "resume": resume, "predict": predicted}, indent=2))
    return 0


if __name__ == "__main__":
    from scripts.common.errors import run_cli

    raise SystemExit(run_cli(main))
