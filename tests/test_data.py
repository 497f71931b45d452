import json

import pandas as pd
import pytest

from scripts.common import settings
from scripts.common.errors import UserError
from scripts.data import sources
from scripts.data.dataset import encode_labels, load_dataset, load_split, save_split
from tests.conftest import make_frame, make_multilabel_frame, shared_file


def load(path, **overrides):
    cfg = settings.resolve({"dataset": str(path), **overrides})
    return load_dataset(sources.get_source(cfg["dataset"]), cfg)


def test_binary_csv_with_string_labels(tmp_path):
    path = tmp_path / "sms.csv"
    make_frame({"ham": 60, "spam": 15}).to_csv(path, index=False)
    ds = load(path)
    assert ds.task == "binary" and ds.label_names == ["ham", "spam"] and ds.positive_label == "spam"
    assert len(ds.frames["all"]) == 75


def test_kaggle_sms_layout_latin1_with_empty_columns(tmp_path):
    # Kaggle's spam.csv: columns v1,v2 plus three empty unnamed ones, latin-1 encoded.
    rows = (
        ["v1,v2,,,"]
        + [f"ham,caf\xe9 number {i} ok,,," for i in range(20)]
        + [f"spam,win \xa3{i} now,,," for i in range(10)]
    )
    path = tmp_path / "spam.csv"
    path.write_bytes("\n".join(rows).encode("latin-1"))
    ds = load(path)
    assert list(ds.frames["all"].columns) == ["text", "labels"]
    assert ds.report["detected"]["encoding"] in ("cp1252", "latin-1")
    assert ds.report["text_columns"] == ["v2"] and ds.report["label_columns"] == ["v1"]
    assert "\xa3" in " ".join(ds.frames["all"]["text"])


def test_utf8_bom_semicolon_and_quoted_newlines(tmp_path):
    body = "review;sentiment\n" + "".join(
        f'"line one {i}\nline two";{"pos" if i % 2 else "neg"}\n' for i in range(12)
    )
    path = tmp_path / "reviews.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    ds = load(path)
    assert ds.report["detected"]["separator"] == ";"
    assert ds.report["text_columns"] == ["review"]
    assert ds.frames["all"]["text"].str.contains("\n").all()


def test_duplicates_and_conflicts_are_dropped_and_counted(tmp_path):
    frame = pd.DataFrame(
        {"text": ["a b", "a b", "c d", "c d", "e f", "g h", ""], "label": ["x", "x", "x", "y", "y", "x", "y"]}
    )
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    ds = load(path)
    report = ds.report["cleaning"]["all"]
    assert report["dropped_duplicates"] == 1 and report["conflicting_texts"] == 1
    assert report["dropped_conflicting"] == 2 and report["dropped_empty_text"] == 1
    assert sorted(ds.frames["all"]["text"]) == ["a b", "e f", "g h"]


def test_numeric_labels_are_canonical(tmp_path):
    pd.DataFrame({"text": [f"t {i}" for i in range(6)], "label": ["1", "0", "1.0", "2", "0", "2"]}).to_csv(
        tmp_path / "n.csv", index=False
    )
    ds = load(tmp_path / "n.csv")
    assert ds.label_names == ["0", "1", "2"] and ds.task == "multiclass"


@pytest.mark.parametrize("fmt", ["delimited", "listlike", "onehot"])
def test_multilabel_three_formats_agree(tmp_path, fmt):
    frame = make_multilabel_frame(60)
    path = tmp_path / f"{fmt}.csv"
    if fmt == "delimited":
        frame.assign(labels=frame["labels"].map(",".join)).to_csv(path, index=False)
        overrides = {}
    elif fmt == "listlike":
        frame.assign(labels=frame["labels"].map(str)).to_csv(path, index=False)
        overrides = {}
    else:
        onehot = pd.DataFrame({"text": frame["text"]})
        for name in ["food", "money", "sport"]:
            onehot[name] = frame["labels"].map(lambda v, n=name: int(n in v))
        onehot.to_csv(path, index=False)
        overrides = {"label_column": ["food", "money", "sport"]}
    ds = load(path, **overrides)
    assert ds.task == "multilabel" and ds.label_names == ["food", "money", "sport"]
    assert [list(v) for v in ds.frames["all"]["labels"]] == [sorted(v) for v in frame["labels"]]


def test_json_records(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"sentence": f"s {i}", "label": "a" if i % 2 else "b"} for i in range(8)]))
    ds = load(path)
    assert ds.task == "binary" and len(ds.frames["all"]) == 8


def test_encode_labels_roundtrip():
    labels = pd.Series([("a",), ("a", "c"), ()])
    assert encode_labels(labels, ["a", "b", "c"], "multilabel") == [[1, 0, 0], [1, 0, 1], [0, 0, 0]]
    assert encode_labels(pd.Series(["b", "a"]), ["a", "b"], "binary") == [1, 0]


def test_save_and_load_split_keep_labels(tmp_path):
    frame = pd.DataFrame({"text": ["x", "y"], "labels": [("a", "b"), ("c",)]})
    save_split(frame, tmp_path / "s.csv")
    back = load_split(tmp_path / "s.csv", "multilabel")
    assert list(back["labels"]) == [("a", "b"), ("c",)]


def test_preset_reuters_reads_given_split():
    shared_file("reuters_r8", "reuters-r8-train.tab")
    cfg = settings.resolve({"dataset": "reuters_r8"})
    ds = load_dataset(sources.get_source("reuters_r8"), cfg)
    assert ds.task == "multiclass" and len(ds.label_names) == 8
    assert set(ds.frames) == {"train", "test"}
    assert ds.report["cleaning"]["train"]["rows_read"] == 5485
    assert ds.report["cleaning"]["test"]["rows_read"] == 2189


def test_preset_goemotions_maps_ids_to_names():
    shared_file("goemotions", "train.tsv")
    cfg = settings.resolve({"dataset": "goemotions"})
    ds = load_dataset(sources.get_source("goemotions"), cfg)
    assert ds.task == "multilabel" and len(ds.label_names) == 28 and ds.label_names[27] == "neutral"
    assert set(ds.frames) == {"train", "validation", "test"}
    multi = ds.frames["train"]["labels"].map(len).gt(1).mean()
    assert 0.1 < multi < 0.25  # the README: 16 % of rows carry more than one label


def test_preset_sms_uci_reads_all_rows():
    shared_file("sms_spam", "SMSSpamCollection")
    cfg = settings.resolve({"dataset": "sms_spam_uci"})
    ds = load_dataset(sources.get_source("sms_spam_uci"), cfg)
    assert ds.report["cleaning"]["all"]["rows_read"] == 5574
    assert ds.positive_label == "spam"


def test_missing_column_suggests_the_closest(tmp_path):
    make_frame({"ham": 5, "spam": 5}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(UserError, match="did you mean 'label'"):
        load(tmp_path / "d.csv", label_column="lable")


def test_a_utf8_csv_is_parsed_from_disk_without_reading_it_whole(tmp_path, monkeypatch):
    """Million-row files: a CSV/TSV in one encoding is checked block by block and parsed by pandas from
    the file, never read into memory as one string; the frame is the one the in-memory path gives."""
    from pathlib import Path

    from scripts.data import readers

    frame = make_frame({"ham": 40, "spam": 20})
    frame.loc[3, "text"] = 'Ünïcödé "quoted", with a comma'
    csv_path, tsv_path = tmp_path / "d.csv", tmp_path / "d.tsv"
    frame.to_csv(csv_path, index=False, encoding="utf-8-sig")
    frame.to_csv(tsv_path, index=False, sep="\t")
    # what the file holds, read by pandas alone (the TSV: every line has one tab, so quotes are text)
    expected = {
        csv_path: frame.astype(str),
        tsv_path: pd.read_csv(tsv_path, sep="\t", dtype=str, quoting=3, keep_default_na=False),
    }

    def refuse(self):
        raise AssertionError(f"{self.name} was read whole")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(readers, "BLOCK", 64)  # many blocks, with characters cut across them
    for path in (csv_path, tsv_path):
        streamed, detected = readers.read_table(path)
        assert detected["encoding"] == "utf-8-sig"
        assert streamed.equals(expected[path]), path.name
    with pytest.raises(UserError, match="cannot be read as ascii"):
        readers.read_table(csv_path, encoding="ascii")


def test_integer_labels_are_exact_never_through_float64(tmp_path):
    path = tmp_path / "ids.csv"
    texts = [f"row {i} text" for i in range(40)]
    labels = ["9007199254740992", "9007199254740993"] * 20
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    ds = load(path)
    assert ds.label_names == ["9007199254740992", "9007199254740993"]
    assert ds.frames["all"]["labels"].value_counts().tolist() == [20, 20]


def test_a_delimiter_inside_class_names_is_said_and_read_as_one_class(tmp_path, capsys):
    """`Sci/Tech, Health` beside `Sport` and `World`: its parts never stand alone or combine otherwise, so it
    is one class name with a comma (said, with task=multilabel to read it as a set)."""
    path = tmp_path / "news.csv"
    names = ["Sci/Tech, Health", "Sport", "World"] * 20
    pd.DataFrame({"text": [f"story {i}" for i in range(60)], "category": names}).to_csv(path, index=False)
    ds = load(path)
    assert ds.task == "multiclass" and "Sci/Tech, Health" in ds.label_names
    said = capsys.readouterr().out
    assert "read as single-label although 20 cells hold ','" in said and "set task=multilabel" in said
    assert load(path, task="multilabel").label_names == ["Health", "Sci/Tech", "Sport", "World"]


def test_delimited_labels_whose_parts_combine_are_label_sets(tmp_path, capsys):
    path = tmp_path / "emotions.csv"
    labels = ["joy", "joy,love", "anger", "love", "anger,joy"] * 12
    pd.DataFrame({"text": [f"comment {i}" for i in range(60)], "labels": labels}).to_csv(path, index=False)
    assert load(path).task == "multilabel"
    assert "read as multi-label: 24 of 60 cells hold ','" in capsys.readouterr().out


def test_a_column_decides_once_for_every_split(tmp_path):
    """Delimited labels only in the test file: the whole column is multi-label, not the test split alone."""
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(40)], "labels": ["a", "b"] * 20}).to_csv(train, index=False)
    pd.DataFrame({"text": [f"s{i}" for i in range(10)], "labels": ["a,b"] * 10}).to_csv(test, index=False)
    from scripts.data.label_reading import label_reading

    raw = {"train": pd.read_csv(train, dtype=str), "test": pd.read_csv(test, dtype=str)}
    assert label_reading(raw, ["labels"], "auto", ",") == "multilabel"


@pytest.mark.parametrize(
    ("cells", "kind"),
    [
        ([{"a": 1}] * 30, "dict"),
        ([[["x"], ["y"]]] * 30, "nested list"),
        ([b"\x00\x01"] * 30, "bytes"),
    ],
)
def test_struct_nested_and_binary_parquet_columns_are_refused_with_their_type(tmp_path, cells, kind):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"text": [f"row {i}" for i in range(30)], "label": cells}).to_parquet(path)
    with pytest.raises(UserError, match=f"label column 'label' holds {kind} values"):
        load(path, text_column="text", label_column="label")
    pd.DataFrame({"text": cells, "label": ["a", "b"] * 15}).to_parquet(path)
    with pytest.raises(UserError, match=f"text column 'text' holds {kind} values"):
        load(path, text_column="text", label_column="label")


@pytest.mark.parametrize("bad", ["hf:../folder", "hf:/abs/path", "hf:a/b/c", "hf:me/a--b", "hf:", "hf:x."])
def test_hub_ids_are_checked_before_any_load(bad):
    with pytest.raises(UserError, match="write a Hub dataset as hf:owner/name"):
        sources.get_source(bad)
