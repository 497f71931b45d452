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

import pandas as pd

from scripts.common import runs, tasks
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.common.ports import check_port_free
from scripts.data.dataset import load_split

if TYPE_CHECKING:
    import gradio as gr


def _no_telemetry() -> None:
    """Set before gradio is first imported: no telemetry calls from a local demo."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def example_texts(run_dir: Path, task: str, per_label: int = 2, pair: bool = False) -> list[Any]:
    """A few test-split texts (or [first, second] pairs), taken across the labels so every class shows up."""
    test = load_split(runs.split_path(run_dir, "test"), task)
    test = test[test["text"].str.len() < 300]
    if tasks.get(task).stratify == "class":
        test = pd.concat([group.head(per_label) for _, group in test.groupby("labels")])
    test = test.head(per_label * 4)
    return [[a, b] for a, b in zip(test["text"], test["text_b"])] if pair else test["text"].tolist()


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


def explainable(predictor) -> bool:
    """Token attributions: a PyTorch classifier of one text (integrated gradients on its embeddings)."""
    from scripts.model.onnx_predictor import OnnxPredictor

    return not isinstance(predictor, OnnxPredictor) and predictor.kind.classifies and not predictor.pair


def classifier(predictor) -> Any:
    """text (and a pair's second text) -> (label probabilities, or a regression's scores with their
    intervals; the decision in words; token attributions). The attributions explain the decided class
    (multi-label: the most probable label) of a PyTorch classifier of one text."""
    from scripts.model.prediction import describe, format_labels

    def classify(text: str, text_b: str | None = None) -> tuple[Any, str, list[tuple[str, float | None]]]:
        if not text or not text.strip() or (predictor.pair and not (text_b or "").strip()):
            return ({} if predictor.kind.classifies else []), "(type a text first)", []
        row = (text, text_b) if predictor.pair else text
        probs = predictor.predict_proba([row])[0]
        decided = predictor.decide(probs[None, :])[0]
        if not predictor.kind.classifies:
            bounds = predictor.intervals(probs[None, :])
            table = [
                [name, round(float(v), 4)]
                + ([round(float(bounds[0][0, j]), 4), round(float(bounds[1][0, j]), 4)] if bounds else [])
                for j, (name, v) in enumerate(zip(predictor.labels, probs))
            ]
            return table, describe(predictor, decided, probs), []
        highlights: list[tuple[str, float | None]] = []
        if explainable(predictor):
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
    if not explainable(predictor):
        return "Why: token attributions explain classifiers of one text; none for pairs or scores"
    target = "most probable label" if multi else "decision"
    return f"Why: token attributions towards the {target} (integrated gradients; red for, blue against)"


def how_it_decides(predictor) -> str:
    """One sentence under the title: what the decision (or score) shown means."""
    kind = predictor.kind
    if kind.stratify == "iterative":
        return (
            "Labels whose probability reaches their threshold (tuned on the validation split) are shown as "
            "the decision."
        )
    if not kind.classifies:
        interval = predictor.meta.get("interval")
        return "The score is in the data's units" + (
            f", with its {interval['level']:.0%} prediction interval." if interval else "."
        )
    return "The decision is the most probable label" + (
        " at the tuned threshold." if predictor.thresholds else "."
    )


def _layout(run_dir: Path, record: dict[str, Any], predictor, classify, classify_file) -> gr.Blocks:
    """The two tabs: a typed text, or pair (probabilities or scores, the decision, attributions), and a
    CSV file."""
    import gradio as gr

    kind, pair = predictor.kind, predictor.pair
    what = kind.word if not kind.classifies else f"{record['task']} classifier"
    with gr.Blocks(title=f"quickfit - {record['run']}") as demo:
        gr.Markdown(
            f"## {record['dataset']['name']}: {what}{' of pairs of texts' if pair else ''}\n"
            f"Run `{record['run']}`, {'labels' if kind.classifies else 'targets'}: "
            f"{', '.join(predictor.labels)}. {how_it_decides(predictor)}"
        )
        with gr.Tab("Text"):
            _text_tab(run_dir, predictor, classify)
        with gr.Tab("CSV file"):
            columns = "both text columns of a pair" if pair else "a text column"
            upload = gr.File(label=f"CSV with {columns}", file_types=[".csv", ".tsv", ".txt"])
            run_file = gr.Button("Predict the file", elem_id="predict-file")
            result = gr.File(label="Predictions (input columns + the prediction columns)")
            run_file.click(classify_file, inputs=upload, outputs=result)
    return demo


def _text_tab(run_dir: Path, predictor, classify) -> None:
    """One text (two for a pair), the decision or score, probabilities or scores, attributions."""
    import gradio as gr

    kind, pair = predictor.kind, predictor.pair
    text = gr.Textbox(
        label="First text" if pair else "Text",
        lines=3,
        placeholder="Type or paste a text",
        elem_id="input-text",
    )
    inputs = [text]
    if pair:
        inputs.append(gr.Textbox(label="Second text", lines=3, elem_id="input-text-b"))
    button = gr.Button("Classify" if kind.classifies else "Predict", variant="primary", elem_id="classify")
    decision = gr.Textbox(
        label="Decision" if kind.classifies else "Score", interactive=False, elem_id="decision"
    )
    if kind.classifies:
        scores = gr.Label(
            label="Probabilities", num_top_classes=min(10, len(predictor.labels)), elem_id="scores"
        )
    else:
        headers = ["target", "score"] + (["low", "high"] if predictor.meta.get("interval") else [])
        scores = gr.Dataframe(headers=headers, label="Scores", elem_id="scores", interactive=False)
    why = gr.HighlightedText(
        label=why_label(predictor, kind.stratify == "iterative"),
        combine_adjacent=False,
        show_legend=False,
        elem_id="attributions",
    )
    gr.Examples(example_texts(run_dir, predictor.task, pair=pair), inputs=inputs)
    button.click(classify, inputs=inputs, outputs=[scores, decision, why])
    text.submit(classify, inputs=inputs, outputs=[scores, decision, why])


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
    run_dir, _ = runs.find_from_cli(args.run)
    check_port_free(args.host, args.port, "app")
    demo = build_app(run_dir, runs.threads_here(run_dir), args.backend)
    say(f"serving {run_dir.name} at http://{args.host}:{args.port} (Ctrl-C to stop)")
    demo.launch(
        server_name=args.host, server_port=args.port, share=False, inbrowser=False, quiet=True, theme=theme()
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
