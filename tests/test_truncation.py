"""truncation: head | tail | head+tail for texts longer than max_seq_length, on every architecture's
tokenizer; the card's snippet cuts exactly as quickfit does. (Training, validation, predict and push
applying the same rule is checked end to end in test_architectures.py, whose runs use head+tail.)"""

from __future__ import annotations

import pytest

from scripts.model import truncation
from tests.tiny_models import ARCHITECTURES, build, corpus

MAX_LEN = 24


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("truncation")
    return {arch: AutoTokenizer.from_pretrained(build(arch, root / arch)) for arch in ARCHITECTURES}


def long_texts() -> list[str]:
    words = corpus(400)
    return [" ".join(words[i : i + 12]) for i in range(0, 360, 12)] + [
        "Ünïcödé ☃ 😀 text, with punctuation... " * 12,
        "firstword " + "filler " * 80 + "lastword",
    ]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_cut_texts_fit_and_keep_the_right_ends(arch, tokenizers):
    tokenizer = tokenizers[arch]
    texts = long_texts()
    size = [len(tokenizer(t)["input_ids"]) for t in texts]
    assert sum(n > MAX_LEN for n in size) > len(texts) // 2  # the test needs long texts
    assert truncation.fit(texts, tokenizer, MAX_LEN, "head") == texts  # the tokenizer cuts the end itself
    room = truncation.room(tokenizer, MAX_LEN)
    for mode in ("tail", "head+tail"):
        fitted = truncation.fit(texts, tokenizer, MAX_LEN, mode)
        for text, cut, n in zip(texts, fitted, size):
            kept = len(tokenizer(cut, add_special_tokens=False)["input_ids"])
            if n <= MAX_LEN:
                assert cut == text  # a text that fits is untouched
                continue
            assert room - 6 <= kept <= room, (mode, text, cut)  # fits, and uses the room
            if mode == "tail":
                assert text.endswith(cut)
            else:
                head, tail = cut.split(truncation.JOINT)
                assert text.startswith(head) and text.endswith(tail) and head and tail
                count = lambda t: len(tokenizer(t, add_special_tokens=False)["input_ids"])  # noqa: E731
                assert count(head) < count(tail)  # a quarter of the room for the head
    cut = truncation.fit([texts[-1]], tokenizer, MAX_LEN, "head+tail")[0]
    assert cut.startswith("f") and cut.endswith(" lastword") and "iller" in cut


@pytest.mark.parametrize("arch", ["bert", "roberta", "deberta-v2"])
@pytest.mark.parametrize("mode", ["tail", "head+tail"])
def test_the_card_snippet_cuts_as_quickfit_does(arch, mode, tokenizers):
    tokenizer = tokenizers[arch]
    namespace: dict = {}
    exec(truncation.card_snippet(mode, MAX_LEN), namespace)
    texts = long_texts()
    expected = truncation.fit(texts, tokenizer, MAX_LEN, mode)
    assert [namespace["fit_text"](t, tokenizer) for t in texts] == expected
    assert expected != texts
    assert truncation.card_snippet("head", MAX_LEN) == ""


def test_auto_keeps_head_and_tail_only_when_many_texts_are_cut():
    assert truncation.choose("auto", 10.9)[0] == "head+tail"  # Reuters R8 at 256 tokens
    assert truncation.choose("auto", 0.84)[0] == "head"  # SMS spam at its 99th percentile
    assert truncation.choose("tail", 0.0) == ("tail", "set in the config")


def test_empty_and_missing_texts_pass_through(tokenizers):
    assert truncation.fit(["", None, "short"], tokenizers["bert"], MAX_LEN, "head+tail") == ["", "", "short"]
