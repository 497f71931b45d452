"""Tiny random-weight base models of every supported architecture, built at test time (no download).

Each tokenizer is trained with the `tokenizers` library (WordPiece for BERT/DistilBERT/ELECTRA,
byte-level BPE for RoBERTa/ModernBERT) or `sentencepiece` (Unigram for DeBERTa-v3 and XLM-R) on
a few hundred synthetic lines, and the model is saved without a classification head, as a Hub
base model is.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.conftest import FILLER, TOPICS, synthetic_texts, tiny_vocab

ARCHITECTURES = ("bert", "distilbert", "roberta", "xlm-roberta", "electra", "deberta-v2", "modernbert")
HIDDEN = dict(hidden_size=32, num_attention_heads=2, intermediate_size=64)


def corpus(n: int = 600) -> list[str]:
    rng = random.Random(1)
    lines = [synthetic_texts(topic, rng) for _ in range(n // len(TOPICS)) for topic in TOPICS]
    return lines + [" ".join(FILLER), " ".join(w for ws in TOPICS.values() for w in ws)]


def _wordpiece(folder: Path, tokenizer_class: str) -> None:
    import transformers

    (folder / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n")
    # In transformers 5 a vocab_file argument is ignored: load from the folder.
    getattr(transformers, tokenizer_class).from_pretrained(folder).save_pretrained(folder)


def _byte_level_bpe(folder: Path, tokenizer_class: str, specials: dict[str, str]) -> None:
    import transformers
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus(), vocab_size=400, min_frequency=1, special_tokens=list(specials.values()))
    bpe.save_model(str(folder))
    if tokenizer_class == "PreTrainedTokenizerFast":
        from tokenizers.processors import TemplateProcessing

        cls, sep = specials["cls_token"], specials["sep_token"]
        bpe.post_processor = TemplateProcessing(
            single=f"{cls} $A {sep}",
            pair=f"{cls} $A {sep} $B {sep}",
            special_tokens=[(cls, bpe.token_to_id(cls)), (sep, bpe.token_to_id(sep))],
        )
        tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, **specials)
    else:
        tokenizer = getattr(transformers, tokenizer_class).from_pretrained(folder, **specials)
    tokenizer.save_pretrained(folder)


def _sentencepiece(folder: Path, tokenizer_class: str, model_file: str) -> None:
    import io

    import sentencepiece as spm
    import transformers

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_writer=model,
        vocab_size=80,
        hard_vocab_limit=False,
        model_type="unigram",
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        user_defined_symbols=["[MASK]", "<mask>"],
        minloglevel=2,
    )
    (folder / model_file).write_bytes(model.getvalue())
    getattr(transformers, tokenizer_class).from_pretrained(folder).save_pretrained(folder)


def _size(folder: Path) -> int:
    import transformers

    return len(transformers.AutoTokenizer.from_pretrained(folder))


def tiny_bert(folder: Path, hidden: int = 32, tokenizer_source: str | None = None, **config_changes) -> Path:
    """The one tiny random-weight BERT builder of the tests and the benches: 2 layers, 2 heads, saved as a
    base model (no head) with a WordPiece tokenizer trained on the test topics, or the tokenizer of
    `tokenizer_source` (the bench uses the packaged MiniLM's, for real texts)."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    if tokenizer_source:
        tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_source)
        tokenizer.save_pretrained(folder)
        vocab_size = tokenizer.vocab_size
    else:
        _wordpiece(folder, "BertTokenizerFast")
        vocab_size = len(tiny_vocab())
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        **config_changes,
    )
    transformers.BertModel(config).save_pretrained(folder)
    return folder


def sentence_body(folder: Path, **pooling: bool) -> Path:
    """A tiny BERT saved as a sentence-transformers body: modules.json and its Pooling module's config."""
    tiny_bert(folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    config = {"pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True, **pooling}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config))
    return folder


def build(arch: str, folder: Path) -> Path:
    """A saved base model (no head) + tokenizer of `arch` in `folder`."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    roberta_specials = dict(
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    if arch == "bert":
        return tiny_bert(folder)
    if arch == "distilbert":
        _wordpiece(folder, "DistilBertTokenizerFast")
        config = transformers.DistilBertConfig(
            vocab_size=len(tiny_vocab()),
            n_layers=2,
            dim=32,
            n_heads=2,
            hidden_dim=64,
            max_position_embeddings=128,
        )
        model = transformers.DistilBertModel(config)
    elif arch == "electra":
        _wordpiece(folder, "ElectraTokenizerFast")
        config = transformers.ElectraConfig(
            vocab_size=len(tiny_vocab()),
            embedding_size=32,
            num_hidden_layers=2,
            max_position_embeddings=128,
            **HIDDEN,
        )
        model = transformers.ElectraModel(config)
    elif arch == "roberta":
        _byte_level_bpe(folder, "RobertaTokenizerFast", roberta_specials)
        config = transformers.RobertaConfig(
            vocab_size=400,
            num_hidden_layers=2,
            max_position_embeddings=130,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            **HIDDEN,
        )
        model = transformers.RobertaModel(config, add_pooling_layer=False)
    elif arch == "modernbert":
        specials = dict(
            cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]"
        )
        _byte_level_bpe(folder, "PreTrainedTokenizerFast", specials)
        tok = transformers.AutoTokenizer.from_pretrained(folder)
        config = transformers.ModernBertConfig(
            vocab_size=400,
            num_hidden_layers=2,
            max_position_embeddings=128,
            pad_token_id=tok.pad_token_id,
            cls_token_id=tok.cls_token_id,
            sep_token_id=tok.sep_token_id,
            global_attn_every_n_layers=2,
            local_attention=16,
            **HIDDEN,
        )
        model = transformers.ModernBertModel(config)
    elif arch == "xlm-roberta":
        _sentencepiece(folder, "XLMRobertaTokenizerFast", "sentencepiece.bpe.model")
        config = transformers.XLMRobertaConfig(
            vocab_size=_size(folder),
            num_hidden_layers=2,
            max_position_embeddings=130,
            pad_token_id=1,
            **HIDDEN,
        )
        model = transformers.XLMRobertaModel(config, add_pooling_layer=False)
    elif arch == "deberta-v2":
        _sentencepiece(folder, "DebertaV2TokenizerFast", "spm.model")
        config = transformers.DebertaV2Config(
            vocab_size=_size(folder),
            num_hidden_layers=2,
            max_position_embeddings=128,
            relative_attention=True,
            position_buckets=16,
            max_relative_positions=128,
            pos_att_type=["p2c", "c2p"],
            position_biased_input=False,
            **HIDDEN,
        )
        model = transformers.DebertaV2Model(config)
    else:
        raise ValueError(arch)
    model.save_pretrained(folder)
    return folder
