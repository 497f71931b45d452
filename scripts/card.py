"""Entry point: the model card (README.md in the run's model folder), built from what the run recorded.

    python -m scripts.card [--run RUN] [--repo user/name]

Metadata goes through huggingface_hub's ModelCardData / EvalResult, so the Hub can read the
model-index; every number in the text comes from run.json and eval/metrics.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from scripts import runs, settings
from scripts.architectures import simpletransformers_type
from scripts.errors import run_cli
from scripts.model import hub_base_model
from scripts.evaluate import comparison_table, markdown_table
from scripts.console import say

if TYPE_CHECKING:
    from huggingface_hub import ModelCard, ModelCardData

METRIC_NAMES = {"accuracy": "Accuracy", "f1_positive": "F1 (positive class)", "f1_macro": "Macro F1",
                "f1_micro": "Micro F1", "f1_weighted": "Weighted F1", "roc_auc": "ROC AUC", "pr_auc": "PR AUC",
                "mcc": "MCC", "balanced_accuracy": "Balanced accuracy", "f1_samples": "Samples F1",
                "subset_accuracy": "Subset accuracy", "hamming_loss": "Hamming loss", "lrap": "LRAP",
                "roc_auc_ovr": "ROC AUC (one-vs-rest)", "roc_auc_macro": "ROC AUC (macro)",
                "roc_auc_micro": "ROC AUC (micro)", "precision_positive": "Precision (positive class)",
                "recall_positive": "Recall (positive class)"}
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}
TASK_WORDS = {"binary": "binary", "multiclass": "multi-class", "multilabel": "multi-label"}


def parameter_count(model_dir: Path) -> int:
    """Parameters in model.safetensors, read from its header (no weights loaded)."""
    import numpy as np
    from safetensors import safe_open

    with safe_open(model_dir / "model.safetensors", "pt") as handle:
        return int(sum(np.prod(handle.get_slice(k).get_shape()) for k in handle.keys()))


def ensure_eval(run_dir: Path, threads: Any = "auto") -> dict[str, Any]:
    """The card reports the test evaluation; run it first if it is missing."""
    path = run_dir / "eval" / "metrics.json"
    if not path.exists():
        from scripts.evaluate import evaluate

        say("no evaluation yet: running it on the test split first")
        evaluate(run_dir, threads=threads)
    return json.loads(path.read_text())


def card_data(record: dict[str, Any], report: dict[str, Any], repo_id: str | None, license_: str) -> "ModelCardData":
    from huggingface_hub import EvalResult, ModelCardData

    ds = record["dataset"]
    model = report["results"]["transformer"]
    dataset_type = ds.get("hub_dataset") or ds["name"]
    eval_results = [
        EvalResult(task_type="text-classification", task_name="Text Classification", dataset_type=dataset_type,
                   dataset_name=ds["name"], dataset_split="test", dataset_config=ds.get("hub_config"),
                   dataset_revision=ds.get("hub_revision") if ds.get("hub_dataset") else None,
                   metric_type=key, metric_name=METRIC_NAMES.get(key, key), metric_value=float(model[key]))
        for key in report["headline"] if model.get(key) is not None
    ]
    return ModelCardData(
        language=ds.get("language") or "en", license=license_, library_name="transformers",
        pipeline_tag="text-classification", base_model=hub_base_model(record["model"]["base_model"] or ""),
        datasets=[ds["hub_dataset"]] if ds.get("hub_dataset") else None,
        metrics=[k for k in report["headline"] if model.get(k) is not None],
        tags=["text-classification", TASK_WORDS[record["task"]] + "-classification", "simpletransformers", "quickfit"],
        model_name=(repo_id or record["run"]).split("/")[-1], eval_results=eval_results,
    )


def _counts_table(record: dict[str, Any]) -> str:
    counts = record["counts"]
    after = record["balance"]["after"]
    rows = [["label", "train (before balancing)", "train (as trained)", "validation", "test"]]
    for name in record["labels"]:
        rows.append([name] + [str(x) for x in (counts["train"].get(name, 0), after.get(name, 0),
                                                counts["validation"].get(name, 0), counts["test"].get(name, 0))])
    return markdown_table(rows)


def _labels_table(record: dict[str, Any], meta: dict[str, Any]) -> str:
    thresholds = meta.get("thresholds") or []
    # multi-label: one cut-off per label; binary: one, on the positive label's probability
    cuts = dict(zip(record["labels"], thresholds)) if record["task"] == "multilabel" else \
        ({meta["positive_label"]: thresholds[0]} if thresholds else {})
    rows = [["id", "label"] + (["threshold (tuned on validation)"] if cuts else [])]
    for i, name in enumerate(record["labels"]):
        rows.append([str(i), name] + ([f"{cuts[name]:.2f}" if name in cuts else "-"] if cuts else []))
    return markdown_table(rows)


def _usage(record: dict[str, Any], meta: dict[str, Any], ref: str) -> str:
    example = "Free entry! Text WIN to 80086 to claim your prize" if "spam" in record["labels"] else "Your text here"
    parts = ["With transformers (the pushed files are a plain `transformers` model):", "", "```python",
             "from transformers import pipeline", ""]
    tuned_binary = record["task"] == "binary" and bool(meta.get("thresholds"))
    if record["task"] == "multilabel" or tuned_binary:
        parts += [f'classifier = pipeline("text-classification", model="{ref}", top_k=None)',
                  f'scores = classifier(["{example}"])[0]',
                  "# quickfit.json holds the threshold(s) tuned on the validation split",
                  "import json",
                  "from huggingface_hub import hf_hub_download",
                  f'meta = json.load(open(hf_hub_download("{ref}", "quickfit.json")))' if "/" in ref and not ref.startswith(("/", ".")) else
                  f'meta = json.load(open("{ref}/quickfit.json"))']
        if tuned_binary:
            parts += ['positive, cut = meta["positive_label"], meta["thresholds"][0]',
                      'other = next(label for label in meta["labels"] if label != positive)',
                      'p = next(s["score"] for s in scores if s["label"] == positive)',
                      'print(positive if p >= cut else other)']
        else:
            parts += ['cut = dict(zip(meta["labels"], meta["thresholds"]))',
                      'print([s["label"] for s in scores if s["score"] >= cut[s["label"]]])']
    else:
        parts += [f'classifier = pipeline("text-classification", model="{ref}")',
                  f'print(classifier(["{example}"]))']
    parts += ["```"]
    if record["task"] != "multilabel":
        # Simple Transformers' multi-label classes train their own heads (none for DeBERTa or ModernBERT, another
        # one for ELECTRA): only its single-label class loads this folder as it was trained.
        st_type = simpletransformers_type(record["model"]["model_type"])
        parts += ["", "With Simple Transformers:", "", "```python",
                  "from simpletransformers.classification import ClassificationModel", "",
                  f'model = ClassificationModel("{st_type}", "{ref}", use_cuda=False,',
                  '    args={"use_multiprocessing": False, "use_multiprocessing_for_evaluation": False})',
                  f'predictions, raw_outputs = model.predict(["{example}"])',
                  "print([model.config.id2label[int(p)] for p in predictions])"
                  + ("  # argmax; apply the quickfit.json threshold for the tuned cut-off" if tuned_binary else ""),
                  "```"]
    return "\n".join(parts)


def render(run_dir: Path, repo_id: str | None = None, license_: str = "apache-2.0") -> "ModelCard":
    """Build the ModelCard object for a run."""
    from huggingface_hub import ModelCard

    record = runs.read_record(run_dir)
    report = ensure_eval(run_dir)
    meta = json.loads((runs.model_dir(run_dir) / "quickfit.json").read_text())
    config = runs.read_json(run_dir / "config.json")
    data = card_data(record, report, repo_id, license_)
    ds, bal, model = record["dataset"], record["balance"], report["results"]["transformer"]
    task_word = TASK_WORDS[record["task"]]
    ref = repo_id or str(runs.model_dir(run_dir))
    cleaning = ds.get("cleaning", {})
    versions = record["versions"]
    hw = record["hardware"]
    headline = ", ".join(f"{METRIC_NAMES.get(k, k)} {model[k]:.4f}" for k in report["headline"][:5] if model.get(k) is not None)
    collapse = ("**Warning: this model collapsed** - " + report["collapse_check"] + "." if report["collapsed"]
                else f"It beats the majority-class predictor ({report['collapse_check']}).")
    history = [["epoch", "train loss (last batch)", "validation loss", f"validation {record['selection_metric']}"]]
    import pandas as pd

    for _, row in pd.read_csv(run_dir / "history.csv").iterrows():
        history.append([str(int(row["epoch"])), f"{row.get('train_loss', float('nan')):.4f}",
                        f"{row.get('eval_loss', float('nan')):.4f}", f"{row[record['selection_metric']]:.4f}"])
    hyper = [["hyperparameter", "value"]] + [[k, f"`{v}`"] for k, v in config["sections"]["ARGS"].items()]
    hyper += [["max_seq_length (resolved)", f"`{record['max_seq_length']}`"],
              ["balancing", f"`{bal['method']}` ({bal['reason']})"],
              ["class weights" if bal.get("class_weight") else "pos_weight",
               f"`{bal.get('class_weight') or bal.get('pos_weight')}`"]]
    per_class = model.get("per_class", {})
    per_class_rows = [["label", "precision", "recall", "F1", "support"]] + [
        [n, f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}", str(c["support"])] for n, c in per_class.items()]
    images = [f"![{p}](eval/{p})" for p in report.get("plots", [])]
    base = hub_base_model(record["model"]["base_model"] or "")
    base_link = f"[{base}](https://huggingface.co/{base})" if base else \
        f"a local base model (`{Path(record['model']['model_name']).name}`)"
    body = f"""
# {data.model_name}

A {task_word} text classifier: {base_link} fine-tuned
with [Simple Transformers](https://simpletransformers.ai) through quickfit on **{ds['name']}**: {ds.get('description', '')}

On the held-out test split ({report['data']['rows']} rows, never used for training, model selection or thresholds): {headline}.
{collapse}

## Intended use

Classifying short {LANGUAGES.get(ds.get('language') or 'en', ds.get('language'))} texts like those in {ds['name']} into: {', '.join(f'`{n}`' for n in record['labels'])}.
It is a {record['model']['model_type']} model with {parameter_count(run_dir / 'model') / 1e6:.1f}M parameters.

**Out of scope:** texts in other languages or domains than the training data, decisions about people
without human review, and any use where a wrong label causes harm. Scores are not calibrated probabilities.

## Labels

{_labels_table(record, meta)}

## Training data

{ds.get('description', '')}
{('Citation: ' + ds['citation']) if ds.get('citation') else ''} Licence of the data: {ds.get('license', 'unknown')}.

Cleaning (before splitting): {', '.join(f"{part}: {c['rows_read']} rows read, {c['dropped_empty_text']} empty texts, {c['dropped_missing_label']} missing labels, {c['dropped_duplicates']} duplicate texts and {c['dropped_conflicting']} rows with conflicting labels dropped" for part, c in cleaning.items())}.
Split: {', '.join(f'{k} {v}' for k, v in ds['split']['sizes'].items())} rows; {('carved with seed ' + str(config['flat']['manual_seed']) + ' (stratified' + (', iterative stratification' if record['task'] == 'multilabel' else '') + '): ' + ', '.join(ds['split']['carved'])) if ds['split']['carved'] else 'as shipped'}{('; given by the dataset: ' + ', '.join(s for s in ds['split']['given'] if s != 'train')) if any(s != 'train' for s in ds['split']['given']) else ''}.
Balancing touched the training split only.

{_counts_table(record)}

## Training procedure

Best epoch {record['best_epoch']} of {len(history) - 1} kept, chosen on validation {record['selection_metric']} ({record['validation_best']:.4f}).
Training took {record['train_seconds']:.0f} s on {hw.get('gpu') or (str(hw.get('cpu_count')) + ' CPU cores')} ({hw.get('torch_threads', '?')} torch threads).
`max_seq_length` {record['max_seq_length']}{(' (auto: 99th percentile of training token lengths, ' + str(record['token_lengths'].get('truncated_share_pct')) + '% of texts truncated)') if record.get('token_lengths') else ''}.

{markdown_table(hyper)}

{markdown_table(history)}

Framework versions: {', '.join(f'{k} {v}' for k, v in versions.items())}.

## Evaluation

Test split, against a TF-IDF + logistic regression baseline (class-weighted) and a majority-class predictor on the same rows:

{markdown_table(comparison_table(report))}

{('Per class:' + chr(10) + chr(10) + markdown_table(per_class_rows)) if per_class else ''}

{chr(10).join(images)}

## Limitations and bias

- Trained on {ds['split']['sizes']['train']} examples of one source ({ds['name']}); texts from other sources, periods or
  communities will be classified less reliably. Biases in how the data was collected and labelled carry over.
- Texts longer than {record['max_seq_length']} tokens are truncated.
- The test metrics come from {report['data']['rows']} rows; small classes have wide uncertainty.
{('- Thresholds were tuned on the validation split; re-tune them if your class balance differs.' + chr(10)) if meta.get('thresholds') else ''}
## How to use

{_usage(record, meta, ref)}

## Reproduce

```bash
{reproduce_command(public_config(config.get('requested', config['flat'])))}
```

Resolved configuration:

```json
{json.dumps({section: public_config(values) for section, values in config['sections'].items()}, indent=2)}
```
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


PATH_KEYS = ("dataset", "model_name", "outputs_dir")


def public_config(flat: dict[str, Any]) -> dict[str, Any]:
    """The config as the card may show it: a path of this machine becomes its last part (a Hub id stays)."""
    def public(value: Any) -> Any:
        local = isinstance(value, str) and (value.startswith(("/", ".", "~")) or Path(value).expanduser().exists())
        return Path(value).name if local else value
    return {k: public(v) if k in PATH_KEYS else v for k, v in flat.items()}


def reproduce_command(flat: dict[str, Any]) -> str:
    """`make train` with the overrides that differ from config.py's defaults (plus the full config below)."""
    changed = settings.changed_from_defaults(flat)
    data = changed.pop("dataset", None)
    parts = ["make train"] + ([f"DATA={data}"] if data else [])
    if changed:
        parts.append('SET="' + " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in changed.items()) + '"')
    return " ".join(parts)


def write_card(run_dir: Path, repo_id: str | None = None, license_: str = "apache-2.0") -> Path:
    card = render(run_dir, repo_id, license_)
    path = runs.model_dir(run_dir) / "README.md"
    card.save(path)
    return path


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.card", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument("--repo", help="the Hub repo id the snippets should name (default: the local path)")
    args = parser.parse_args(argv)
    run_dir, cfg = runs.find_from_cli(args.run)
    path = write_card(run_dir, args.repo, cfg["license"])
    say(f"model card written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
