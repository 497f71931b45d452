"""The run's model as ONNX (torch.onnx, opset 18) in outputs/<run>/onnx/, beside the tokenizer, config and
quickfit.json it needs, and optionally an int8 copy (ONNX Runtime dynamic quantisation).

Parity is checked at export on the run's validation and test rows, through the same path predict uses
(the `tokenizers` adapter and ONNX Runtime): fp32 outputs within 1e-4 of PyTorch's and the same decisions,
or nothing is written; the int8 copy is kept only when at least 99.5 % of its decisions equal PyTorch's on
enough rows to show it (200), else the line says why. parity.json records the checks and a fingerprint of
the weights, config and quickfit.json exported (meta.py): predict, the app and push refuse an onnx/ that
does not match its run's model/. The export traces a CPU copy of the model, whatever device it was on.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import UserError
from scripts.model.base_model import MODEL_FILES, tokenize
from scripts.model.meta import EXPORTED, fingerprint
from scripts.model.onnx_predictor import FP32, INT8, load_onnx_predictor

FP32_TOLERANCE = 1e-4
INT8_AGREEMENT = 0.995
# rows it takes for "at least 99.5 % identical" to mean something: one disagreement in 200 is 99.5 %
INT8_MIN_ROWS = round(1 / (1 - INT8_AGREEMENT))
OPSET = 18


def export_model(model: Any, tokenizer: Any, texts: list[Any], path: Path, max_length: int) -> None:
    """torch.onnx.export (TorchScript tracing) of a CPU copy, with batch and sequence as dynamic axes. The
    trace sample is cut at max_length: a raw validation text can be longer than the model's positions."""
    import copy

    import torch

    sample_rows = list(texts[:2]) or ["a", "a b"]
    sample = tokenize(
        tokenizer, sample_rows, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    on_cpu = copy.deepcopy(model).to("cpu").eval()  # a GPU model traced with CPU tensors fails
    with torch.inference_mode():
        torch.onnx.export(
            on_cpu,
            tuple(sample[k] for k in names),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def quantize(fp32: Path, int8: Path) -> None:
    """Dynamic int8 after ONNX Runtime's pre-processing (graph optimisation and shape inference; its
    symbolic shape inference stops on this export, so it is skipped): on the SMS model it measured 5.8x /
    3.3x / 2.6x PyTorch fp32's rows/s at batch 1 / 8 / 64 against 4.5x / 2.2x / 2.8x without it
    (bench/ONNX_BATCHES.md). A graph the pre-processing cannot take is quantised as it is."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source = int8.with_name("prepared.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process, which is done here
    try:
        try:
            quant_pre_process(str(fp32), str(source), skip_symbolic_shape=True)
        except Exception:  # noqa: BLE001 - an optimiser failure only costs the pre-processing
            source = fp32
        quantize_dynamic(str(source), str(int8), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
        int8.with_name("prepared.onnx").unlink(missing_ok=True)


def export_run(run_dir: Path, with_int8: bool = False, threads: Any = "auto") -> dict[str, Any]:
    """outputs/<run>/onnx/ built aside and swapped in; returns the parity figures (also onnx/parity.json)."""
    import warnings

    from scripts.common.tasks import inputs_of
    from scripts.data.dataset import load_split
    from scripts.model.inference import load_predictor

    record = runs.read_record(run_dir)
    reference = load_predictor(runs.model_dir(run_dir), threads)
    inputs = inputs_of(reference.meta)
    checked = {
        part: inputs.rows(load_split(runs.split_path(run_dir, part), record["task"]))
        for part in ("validation", "test")
    }
    texts = checked["validation"] + checked["test"]
    expected = reference.predict_proba(texts)
    with runs.built_aside(run_dir / "onnx") as out:
        for name in MODEL_FILES:
            if name != "model.safetensors" and (runs.model_dir(run_dir) / name).exists():
                shutil.copy2(runs.model_dir(run_dir) / name, out / name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_model(reference.model, reference.tokenizer, texts, out / FP32, reference.max_seq_length)
        parity = {
            "rows": len(texts),
            "checked_on": {part: len(rows) for part, rows in checked.items()},
            "model_fingerprint": fingerprint(runs.model_dir(run_dir)),
            "fp32": _fp32_parity(out, texts, expected, reference, threads),
        }
        if with_int8:
            quantize(out / FP32, out / INT8)
            parity["int8"] = _int8_agreement(out, texts, expected, reference, threads)
        parity["export_fingerprint"] = fingerprint(out, EXPORTED)
        runs.write_json(out / "parity.json", parity)
    return parity


def _fp32_parity(out: Path, texts, expected, reference, threads) -> dict[str, Any]:
    got = load_onnx_predictor(out, threads).predict_proba(texts)
    # a regression's scores are in the data's units: compared relative to their size (float32 rounding)
    size = 1.0 if reference.kind.classifies else np.maximum(np.abs(expected).max(axis=0), 1.0)
    diff = float((np.abs(got - expected) / size).max()) if len(texts) else 0.0
    same = _same_decisions(reference, got, expected)
    if diff > FP32_TOLERANCE or same < 1.0:
        raise UserError(
            f"the ONNX export does not reproduce the model on {len(texts)} validation and test rows (largest "
            f"difference {diff:.1e}, {100 * same:.2f} % identical decisions); nothing was written. Please "
            "report this with the model_type"
        )
    say(f"ONNX fp32: {len(texts)} validation and test rows, largest difference {diff:.1e}, same decisions")
    return {"max_probability_difference": diff, "identical_decisions": same}


def _int8_agreement(out: Path, texts, expected, reference, threads) -> dict[str, Any]:
    got = load_onnx_predictor(out, threads, quantized=True).predict_proba(texts)
    same = _same_decisions(reference, got, expected)
    shown = len(texts) >= INT8_MIN_ROWS
    kept = same >= INT8_AGREEMENT
    if not kept:
        (out / INT8).unlink()
        say(
            f"ONNX int8 not written: only {100 * same:.2f} % of {len(texts)} decisions equal fp32's (needs "
            f"{100 * INT8_AGREEMENT:.1f} %); use the fp32 export"
        )
    elif shown:
        say(
            f"ONNX int8: {100 * same:.2f} % of {len(texts)} validation and test decisions identical to "
            "fp32; kept"
        )
    else:
        say(
            f"ONNX int8 kept, its agreement not shown: {100 * same:.2f} % of only {len(texts)} validation "
            f"and test rows (showing {100 * INT8_AGREEMENT:.1f} % takes {INT8_MIN_ROWS}); check it on your "
            "own data"
        )
    return {"identical_decisions": same, "rows": len(texts), "kept": kept, "shown": shown}


def _same_decisions(reference, got: np.ndarray, expected: np.ndarray) -> float:
    from scripts.model.prediction import agreeing

    if not len(got):
        return 1.0
    return float(np.mean(agreeing(reference, expected, got)))
