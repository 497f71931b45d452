"""make gpu-check: one line and exit 0 without a GPU; its whole sequence rehearsed in fp32 on the CPU."""

import subprocess
from pathlib import Path

import pytest
import torch

from bench import gpu_check
from tests.helpers import write_binary_csv

pytestmark = (
    pytest.mark.slow
)  # subprocesses that import Simple Transformers: make test runs it, make test-fast not

PROJECT = Path(__file__).resolve().parent.parent


def test_make_gpu_check_skips_with_one_line_without_a_gpu():
    if torch.cuda.is_available():
        return  # on a GPU machine it runs for real (minutes); this test is about the CPU answer
    done = subprocess.run(
        ["make", "--no-print-directory", "gpu-check"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout.splitlines()
    after_command = out[next(i for i, line in enumerate(out) if line.endswith("scripts.cli gpu-check")) + 1 :]
    lines = [line for line in after_command if line.strip()]
    assert (
        done.returncode == 0 and len(lines) == 1 and lines[0].startswith("gpu-check skipped: no CUDA GPU")
    ), done.stdout


def test_gpu_check_sequence_rehearsed_on_the_cpu(tiny_model, tmp_path):
    """The fp16-saved base trains with fp32 master weights, the interrupted run resumes, the report is
    written."""
    csv = write_binary_csv(tmp_path / "b.csv", ham=900, spam=400)
    out = tmp_path / "GPU.md"
    code = gpu_check.main(
        [
            "--cpu",
            "--data",
            str(csv),
            "--model",
            str(tiny_model),
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
            "--set",
            "threads=1",
            "learning_rate=0.002",
        ]
    )
    assert code == 0
    report = out.read_text()
    assert "fp16 copy (saved torch.float32)" in report  # an fp16 base model is trained and saved in fp32
    assert "SIGTERM after epoch 1 -> exit 130" in report and "`RESUME=1` finished" in report
    assert (tmp_path / "work" / "resume" / "resumed" / "run.json").exists()
