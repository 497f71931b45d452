"""What POST /predict accepts, checked in the HTTP process before anything reaches the model: a malformed or
oversized request is a 4xx naming the problem, and never joins (or fails) another client's batch.

    {"text": "..."}                                   one text
    {"texts": ["...", "..."]}                         several
    {"text": "...", "text_pair": "..."}               one pair (a pair model)
    {"pairs": [["first", "second"], ...]}             several pairs
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

MAX_TEXTS = 64  # texts (or pairs) a request: larger lists go to make predict or several requests
MAX_CHARS = 20_000  # characters a text: a long document is cut into windows, but not without bound
MAX_BODY_BYTES = (
    4 * MAX_TEXTS * MAX_CHARS
)  # the body of the largest valid request, with room for JSON escapes

Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CHARS, strict=True)]


def check_text(text: str, where: str) -> str:
    """A text the tokenizer can take: not blank, valid Unicode (JSON lets a lone surrogate through)."""
    if not text.strip():
        raise ValueError(f"{where} is blank; send text with at least one visible character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{where} holds an unpaired surrogate ({exc.reason}); send valid Unicode") from exc
    return text


class SingleRequest(BaseModel):
    """A model of one text a row: `text` or `texts`."""

    model_config = ConfigDict(extra="forbid", strict=True)
    text: Text | None = None
    texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS)] | None = None

    @model_validator(mode="after")
    def one_form(self) -> SingleRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError('send either "text" (one string) or "texts" (a list of strings)')
        for i, text in enumerate(self.inputs()):
            check_text(text, "text" if self.text is not None else f"texts[{i}]")
        return self

    def inputs(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class PairRequest(BaseModel):
    """A model of pairs: `text` with `text_pair`, or `pairs`."""

    model_config = ConfigDict(extra="forbid", strict=True)
    text: Text | None = None
    text_pair: Text | None = None
    pairs: (
        Annotated[list[Annotated[list[Text], Field(min_length=2, max_length=2)]], Field(max_length=MAX_TEXTS)]
        | None
    ) = None

    @model_validator(mode="after")
    def one_form(self) -> PairRequest:
        single = self.text is not None or self.text_pair is not None
        if single == (self.pairs is not None) or (single and (self.text is None or self.text_pair is None)):
            raise ValueError(
                'this model reads pairs: send "text" with "text_pair", or "pairs" (a list of [first, second])'
            )
        if self.pairs is not None and not self.pairs:
            raise ValueError('"pairs" is empty; send at least one [first, second]')
        for i, (first, second) in enumerate(self.inputs()):
            where = "text" if single else f"pairs[{i}]"
            check_text(first, where if single else f"{where}[0]")
            check_text(second, "text_pair" if single else f"{where}[1]")
        return self

    def inputs(self) -> list[tuple[str, str]]:
        if self.pairs is not None:
            return [(a, b) for a, b in self.pairs]
        return [(str(self.text), str(self.text_pair))]


def validation_answer(request: Any, exc: Any) -> Any:
    """A rejected body as 422 with where and what, never the input echoed back (it may be 5 MB, or hold a
    lone surrogate that JSON cannot encode: a 500 instead of the 422)."""
    from fastapi.responses import JSONResponse

    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
    content_type = request.headers.get("content-type", "")
    if any(e.get("type") == "model_attributes_type" for e in exc.errors()) and "json" not in content_type:
        errors.insert(0, {"loc": ["body"], "msg": "send a JSON object with Content-Type: application/json"})
    return JSONResponse(status_code=422, content={"detail": errors})
