"""Entry point: a Gradio demo for a trained run: type a text, see the label probabilities and which tokens
drove the decision (token attributions); upload a CSV, get its predictions file.

    python -m scripts.app [--run RUN] [--host 127.0.0.1] [--port 7860]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.common.ports import check_port_free
from scripts.data.dataset import load_split

if TYPE_CHECKING:
    import gradio as gr


def _no_telemetry() -> None:
    """Set before gradio is first imported: no telemetry calls from a local demo."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def example_texts(run_dir: Path, task: str, per_label: int = 2) -> list[str]:
    """A few test-split texts, taken across the labels so every class shows up."""
    test = load_split(runs.split_path(run_dir, "test"), task)
    test = test[test["text"].str.len() < 300]
    if task == "multilabel":
        return test["text"].head(per_label * 4).tolist()
    return [t for _, group in test.groupby("labels") for t in group["text"].head(per_label)]


def build_app(run_dir: Path, threads: Any = "auto", backend: str = "auto") -> gr.Blocks:
    """The Blocks app; the model is loaded once, here: on ONNX Runtime when the run has an export
    (BACKEND=auto), without token attributions then (they need PyTorch's gradients)."""
    _no_telemetry()
    import gradio as gr

    from scripts.predict import choose_predictor, predict_file

    record = runs.read_record(run_dir)
    predictor = choose_predictor(run_dir, backend, False, threads)
    classify = classifier(predictor)

    def classify_file(upload) -> str:
        if upload is None:
            raise gr.Error("Upload a CSV file first.")
        source = Path(upload if isinstance(upload, str) else upload.name)
        target = Path(tempfile.mkdtemp(prefix="quickfit_app_")) / f"{source.stem}.predictions.csv"
        try:
            predict_file(run_dir, source, target, threads=threads, backend=backend)
        except UserError as exc:
            raise gr.Error(str(exc)) from exc
        return str(target)

    return _layout(run_dir, record, predictor, classify, classify_file)


def classifier(predictor) -> Any:
    """text -> (label probabilities, the decision, token attributions). The attributions explain the
    decided class (multi-label: the most probable label) and need a PyTorch model: none on ONNX Runtime."""
    from scripts.model.onnx_predictor import OnnxPredictor
    from scripts.predict import format_labels

    explainable = not isinstance(predictor, OnnxPredictor)

    def classify(text: str) -> tuple[dict[str, float], str, list[tuple[str, float | None]]]:
        if not text or not text.strip():
            return {}, "(type a text first)", []
        probs = predictor.predict_proba([text])[0]
        decided = predictor.decide(probs[None, :])[0]
        highlights: list[tuple[str, float | None]] = []
        if explainable:
            from scripts.evaluation.explain import explain

            highlights = explain(predictor, text, int(probs.argmax())).as_highlights()
        return (
            {name: float(p) for name, p in zip(predictor.labels, probs)},
            format_labels(decided, ", ") or "(no label above its threshold)",
            highlights,
        )

    return classify


def why_label(predictor, multi: bool) -> str:
    from scripts.model.onnx_predictor import OnnxPredictor

    if isinstance(predictor, OnnxPredictor):
        return "Why: token attributions need PyTorch (make app BACKEND=torch); this app runs on ONNX Runtime"
    target = "most probable label" if multi else "decision"
    return f"Why: token attributions towards the {target} (integrated gradients; red for, blue against)"


def _layout(run_dir: Path, record: dict[str, Any], predictor, classify, classify_file) -> gr.Blocks:
    """The two tabs: a typed text (probabilities, decision, attributions) and a CSV file."""
    import gradio as gr

    multi = predictor.task == "multilabel"
    how = (
        "Labels whose probability reaches their threshold (tuned on the validation split) are shown as the "
        "decision."
        if multi
        else "The decision is the most probable label"
        + (" at the tuned threshold." if predictor.thresholds else ".")
    )
    with gr.Blocks(title=f"quickfit - {record['run']}") as demo:
        gr.Markdown(
            f"## {record['dataset']['name']}: {record['task']} classifier\n"
            f"Run `{record['run']}`, labels: {', '.join(predictor.labels)}. {how}"
        )
        with gr.Tab("Text"):
            text = gr.Textbox(label="Text", lines=3, placeholder="Type or paste a text", elem_id="input-text")
            button = gr.Button("Classify", variant="primary", elem_id="classify")
            decision = gr.Textbox(label="Decision", interactive=False, elem_id="decision")
            scores = gr.Label(
                label="Probabilities", num_top_classes=min(10, len(predictor.labels)), elem_id="scores"
            )
            why = gr.HighlightedText(
                label=why_label(predictor, multi),
                combine_adjacent=False,
                show_legend=False,
                elem_id="attributions",
            )
            gr.Examples(example_texts(run_dir, predictor.task), inputs=text)
            button.click(classify, inputs=text, outputs=[scores, decision, why])
            text.submit(classify, inputs=text, outputs=[scores, decision, why])
        with gr.Tab("CSV file"):
            upload = gr.File(label="CSV with a text column", file_types=[".csv", ".tsv", ".txt"])
            run_file = gr.Button("Predict the file", elem_id="predict-file")
            result = gr.File(label="Predictions (input columns + predicted + prob_<label>)")
            run_file.click(classify_file, inputs=upload, outputs=result)
    return demo


def theme() -> gr.themes.Base:
    """System fonts only: the default theme fetches web fonts, which an offline machine cannot."""
    _no_telemetry()
    import gradio as gr

    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.app", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--backend", default="auto", help="auto (ONNX Runtime when exported) | torch | onnx")
    args = parser.parse_args(argv)
    run_dir, cfg = runs.find_from_cli(args.run)
    check_port_free(args.host, args.port, "app")
    demo = build_app(run_dir, cfg["threads"], args.backend)
    say(f"serving {run_dir.name} at http://{args.host}:{args.port} (Ctrl-C to stop)")
    demo.launch(
        server_name=args.host, server_port=args.port, share=False, inbrowser=False, quiet=True, theme=theme()
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
