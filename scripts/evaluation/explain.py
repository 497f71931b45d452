"""Token attributions: which parts of a text pushed the model towards a label (Captum's integrated gradients).

Integrated gradients on the word-embedding layer, from a baseline where every non-special token is the pad
token, to the text. The attributions of a text's tokens sum to f(text) - f(baseline) (completeness), where
f is the explained score on the raw logits: for single-label models the target's logit minus the contrast
label's (or minus the mean of the other logits when there is none), for multi-label models the target
label's logit (its log-odds). Positions and segment ids stay as they are, so only the words are explained.
Used by `make eval` (the most confident errors, in report.md and the card) and by the app (any typed text).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np

from scripts.common import tasks

STEPS = 48  # integration steps: the completeness gap is a few hundredths of a logit at this count
SHOWN = 6  # tokens highlighted in report.md (the strongest ones towards the target)


@dataclass
class Attribution:
    """A text cut into fragments, each with its attribution (None: not a token, e.g. spaces or cut text)."""

    fragments: list[tuple[str, float | None]]
    target: str
    contrast: str | None
    score: float  # f(text)
    baseline_score: float  # f(baseline)
    total: float  # sum of the token attributions
    delta: float  # Captum's convergence delta: total - (score - baseline_score)

    def strongest(self, n: int = SHOWN) -> list[int]:
        """Indices of the n fragments that pushed hardest towards the target, strongest first."""
        scored = [i for i, (t, s) in enumerate(self.fragments) if s is not None and s > 0 and t.strip()]
        return sorted(scored, key=lambda i: -self.fragments[i][1])[:n]

    def top(self, n: int = SHOWN) -> list[tuple[str, float]]:
        return [self.fragments[i] for i in self.strongest(n)]

    def as_highlights(self) -> list[tuple[str, float | None]]:
        """For Gradio's HighlightedText: scores scaled into [-1, 1] (positive: towards the target)."""
        peak = max((abs(s) for _, s in self.fragments if s is not None), default=0.0) or 1.0
        return [(t, None if s is None else round(s / peak, 4)) for t, s in self.fragments]

    def as_markdown(self, n: int = SHOWN) -> str:
        """The text with its n strongest tokens towards the target in <mark> (GitHub and the Hub show it)."""
        marked = set(self.strongest(n))
        return "".join(
            f"<mark>{html.escape(t, quote=False)}</mark>" if i in marked else html.escape(t, quote=False)
            for i, (t, _) in enumerate(self.fragments)
        ).replace("\n", " ")


def explain(
    predictor: Any, text: str, target: int, contrast: int | None = None, steps: int = STEPS
) -> Attribution:
    """Integrated-gradients attributions of the tokens of `text` to the score of label `target`, as the
    model reads it: cut by the truncation rule, or in windows whose scores are averaged (long_texts=chunks).
    Over windows the explained score is the mean of the windows' scores, so each window's attributions
    count 1/n and a token shared by two windows sums both shares: completeness still holds."""
    if predictor.meta.get("long_texts") != "chunks":
        return _explain_piece(predictor, predictor.fit_texts([text])[0], target, contrast, steps)
    from scripts.model.windows import spans as window_spans

    cuts = window_spans(
        text, predictor.tokenizer, predictor.max_seq_length, int(predictor.meta["window_overlap"])
    )
    if len(cuts) == 1:
        return _explain_piece(predictor, text, target, contrast, steps)
    parts = [_explain_piece(predictor, text[a:b], target, contrast, steps) for a, b in cuts]
    return _merge(text, [a for a, _ in cuts], parts)


def _merge(text: str, starts: list[int], parts: list[Attribution]) -> Attribution:
    """The windows' attributions as one over the whole text (each window's share 1/n)."""
    share = 1.0 / len(parts)
    spans: dict[tuple[int, int], float] = {}
    for start, part in zip(starts, parts):
        cursor = start
        for fragment, score in part.fragments:
            if score is not None:
                key = (cursor, cursor + len(fragment))
                spans[key] = spans.get(key, 0.0) + score * share
            cursor += len(fragment)
    fragments: list[tuple[str, float | None]] = []
    cursor = 0
    for (begin, end), score in sorted(spans.items()):
        if begin < cursor:  # a token cut differently at a window's edge: its share stays in the total
            continue
        if begin > cursor:
            fragments.append((text[cursor:begin], None))
        fragments.append((text[begin:end], score))
        cursor = end
    if cursor < len(text):
        fragments.append((text[cursor:], None))
    return Attribution(
        fragments=fragments,
        target=parts[0].target,
        contrast=parts[0].contrast,
        score=float(np.mean([p.score for p in parts])),
        baseline_score=float(np.mean([p.baseline_score for p in parts])),
        total=float(sum(p.total for p in parts) * share),
        delta=float(np.mean([p.delta for p in parts])),
    )


def _explain_piece(predictor: Any, text: str, target: int, contrast: int | None, steps: int) -> Attribution:
    """Integrated gradients over one text that fits max_seq_length (the text as the model scores it)."""
    import torch
    from captum.attr import LayerIntegratedGradients

    model, tokenizer = predictor.model, predictor.tokenizer
    encoded = tokenizer(
        text,
        truncation=True,
        max_length=predictor.max_seq_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_tensors="pt",
    )
    offsets = encoded.pop("offset_mapping")[0].tolist()
    special = encoded.pop("special_tokens_mask")[0].bool()
    inputs = {k: v.to(predictor.device) for k, v in encoded.items()}
    ids = inputs.pop("input_ids")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    baseline = torch.where(special.to(ids.device)[None, :], ids, torch.full_like(ids, pad))
    multilabel = predictor.kind.per_label

    def explained_score(input_ids: torch.Tensor) -> torch.Tensor:
        repeat = input_ids.shape[0]
        extra = {k: v.expand(repeat, -1) for k, v in inputs.items()}
        logits = model(input_ids=input_ids, **extra).logits.float()
        if multilabel:
            return logits[:, target]
        if contrast is not None:
            return logits[:, target] - logits[:, contrast]
        others = torch.cat([logits[:, :target], logits[:, target + 1 :]], dim=1)
        return logits[:, target] - others.mean(dim=1)

    integrated = LayerIntegratedGradients(explained_score, model.get_input_embeddings())
    attributions, delta = integrated.attribute(
        ids, baselines=baseline, n_steps=steps, internal_batch_size=steps, return_convergence_delta=True
    )
    per_token = attributions.sum(dim=-1)[0].detach().float().cpu().numpy()
    with torch.no_grad():
        ends = explained_score(torch.cat([ids, baseline])).float().cpu().numpy()
    return Attribution(
        fragments=_fragments(text, offsets, special.tolist(), per_token),
        target=predictor.labels[target],
        contrast=None if contrast is None else predictor.labels[contrast],
        score=float(ends[0]),
        baseline_score=float(ends[1]),
        total=float(per_token.sum()),
        delta=float(delta.reshape(-1)[0]),
    )


def _fragments(
    text: str, offsets: list[list[int]], special: list[bool], scores: np.ndarray
) -> list[tuple[str, float | None]]:
    """The whole text as consecutive fragments: each token's characters with its score, the gaps and any
    truncated tail with None. Special tokens (CLS, SEP) have no characters; their share is left out."""
    out: list[tuple[str, float | None]] = []
    cursor = 0
    for (start, end), is_special, score in zip(offsets, special, scores):
        if is_special or end <= start or start < cursor:
            continue
        if start > cursor:
            out.append((text[cursor:start], None))
        out.append((text[start:end], float(score)))
        cursor = end
    if cursor < len(text):
        out.append((text[cursor:], None))
    return out


def explain_errors(
    predictor: Any, errors: list[dict[str, Any]], labels: list[str], task: str, top: int = 5
) -> list[dict[str, Any]]:
    """Attributions for the most confident wrong predictions (error_analysis' list, most confident first):
    single-label: what pushed the predicted label over the true one; multi-label: the wrongly scored label."""
    explained = []
    for wrong in errors[:top]:
        if tasks.get(task).per_label:
            attribution = explain(predictor, wrong["text"], labels.index(wrong["label"]))
        else:
            attribution = explain(
                predictor, wrong["text"], labels.index(wrong["predicted"]), labels.index(wrong["true"])
            )
        explained.append(
            {
                **{k: v for k, v in wrong.items() if k != "text"},
                "markdown": attribution.as_markdown(),
                "top_tokens": [[t, round(s, 4)] for t, s in attribution.top()],
                "score": round(attribution.score, 4),
                "completeness_gap": round(attribution.delta, 4),
            }
        )
    return explained
