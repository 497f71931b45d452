import numpy as np
import pandas as pd
import pytest

from scripts import predict
from scripts.common.errors import run_cli
from scripts.data import blocks
from scripts.model.inference import load_predictor
from tests.conftest import make_frame
from tests.helpers import (
    calibrated_softmax,
    simpletransformers_predict,
    tiny_args,
    train_run,
    write_multilabel_csv,
)


def new_rows(n=150, seed=5):
    frame = make_frame({"ham": n * 2 // 3, "spam": n // 3}, seed=seed).rename(columns={"label": "truth"})
    frame.insert(0, "id", range(len(frame)))
    frame.loc[[3, 17], "text"] = ""  # empty texts: kept, counted, no prediction
    return frame


@pytest.mark.parametrize("stream", [False, True])
def test_predict_keeps_rows_columns_and_order(binary_run, tmp_path, monkeypatch, stream):
    if stream:  # force the chunked reader on a small file
        monkeypatch.setattr(blocks, "SAMPLE_BYTES", 2000)
        monkeypatch.setattr(blocks, "CHUNK_ROWS", 40)
    frame = new_rows()
    frame.to_csv(tmp_path / "new.csv", index=False)
    result = predict.predict_file(binary_run, tmp_path / "new.csv", threads=1)
    out = pd.read_csv(tmp_path / "new.predictions.csv", keep_default_na=False)
    assert result["rows"] == len(frame) and result["empty_texts"] == 2
    assert list(out.columns) == ["id", "text", "truth", "predicted", "prob_ham", "prob_spam"]
    assert list(out["id"]) == list(frame["id"])
    assert (out.loc[[3, 17], "predicted"] == "").all() and (out.loc[[3, 17], "prob_ham"] == "").all()
    probs = out.drop([3, 17])[["prob_ham", "prob_spam"]].astype(float)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert not list(tmp_path.glob(".*partial"))


def test_predict_equals_simpletransformers_predict(binary_run, tmp_path):
    frame = new_rows().drop([3, 17]).reset_index(drop=True)
    frame.to_csv(tmp_path / "new.csv", index=False)
    predict.predict_file(binary_run, tmp_path / "new.csv", threads=1)
    ours = pd.read_csv(tmp_path / "new.predictions.csv")
    (ids, raw), id2label = simpletransformers_predict(binary_run / "model", frame["text"].tolist(), 64)
    labels = [id2label[int(i)] for i in ids]
    assert list(ours["predicted"]) == labels
    # Simple Transformers' logits at the temperature the run stored
    softmax = calibrated_softmax(raw, binary_run / "model")
    assert np.allclose(ours[["prob_ham", "prob_spam"]].to_numpy(), softmax, atol=1e-5)


def test_length_sorted_batches_restore_input_order(binary_run):
    predictor = load_predictor(binary_run / "model", threads=1)
    texts = [("win cash now " * k).strip() for k in range(1, 30)][::-1] + ["ok", "see you later tonight"]
    together = predictor.predict_proba(texts, batch_size=4)
    one_by_one = np.vstack([predictor.predict_proba([t]) for t in texts])
    assert np.allclose(together, one_by_one, atol=1e-5)


def test_multilabel_predictions_use_stored_thresholds(tiny_model, tmp_path):
    run = train_run(write_multilabel_csv(tmp_path / "ml.csv"), tiny_args(tiny_model, tmp_path / "outputs"))
    frame = pd.read_csv(tmp_path / "ml.csv").head(40)[["text"]]
    frame.to_csv(tmp_path / "new.csv", index=False)
    predict.predict_file(run, tmp_path / "new.csv", threads=1)
    out = pd.read_csv(tmp_path / "new.predictions.csv", keep_default_na=False)
    predictor = load_predictor(run / "model", threads=1)
    cut = np.array(predictor.thresholds)
    probs = out[[f"prob_{n}" for n in predictor.labels]].to_numpy(dtype=float)
    expected = [",".join(n for n, p, c in zip(predictor.labels, row, cut) if p >= c) for row in probs]
    assert list(out["predicted"]) == expected


def test_single_text_and_missing_column(binary_run, tmp_path, capsys):
    assert predict.main(["--run", str(binary_run), "free cash prize now"]) == 0
    assert capsys.readouterr().out.split("\t")[0] in ("ham", "spam")
    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "x.csv", index=False)
    assert run_cli(predict.main, ["--run", str(binary_run), "--input", str(tmp_path / "x.csv")]) == 2
    assert "COLUMN_NAMES=label,text" in capsys.readouterr().err
    assert not (tmp_path / "x.predictions.csv").exists()


def test_quantized_model_is_used_only_when_faithful(binary_run, capsys):
    predictor, agreement = predict.faithful_quantized(binary_run, threads=1)
    out = capsys.readouterr().out
    test = pd.read_csv(binary_run / "splits" / "test.csv", keep_default_na=False)["text"].tolist()
    exact = load_predictor(binary_run / "model", threads=1)
    int8 = load_predictor(binary_run / "model", threads=1, quantize=True)
    same = np.mean(
        [
            a == b
            for a, b in zip(exact.decide(exact.predict_proba(test)), int8.decide(int8.predict_proba(test)))
        ]
    )
    assert agreement == pytest.approx(same)  # the share of the test rows whose label int8 keeps
    if agreement >= 0.99:
        assert "using it" in out and predictor.model.__class__.__module__ != "transformers"
    else:
        assert "using fp32 instead" in out
    _, strict = predict.faithful_quantized(binary_run, threads=1, needed=1.01)  # impossible bar -> fp32
    assert "using fp32 instead" in capsys.readouterr().out


def test_outputs_never_land_in_a_run_folder_or_over_input_columns(binary_run, tmp_path, capsys):
    test_split = binary_run / "splits" / "test.csv"
    before = test_split.read_bytes()
    frame = new_rows(20)
    frame.to_csv(tmp_path / "new.csv", index=False)
    for output in (test_split, binary_run / "model" / "preds.csv", binary_run / "eval" / "x.csv"):
        args = ["--run", str(binary_run), "--input", str(tmp_path / "new.csv"), "--output", str(output)]
        assert run_cli(predict.main, args) == 2
        assert "whose files quickfit's later stages read" in capsys.readouterr().err
    assert test_split.read_bytes() == before and not (binary_run / "model" / "preds.csv").exists()
    frame.assign(predicted="mine", prob_spam=0.5).to_csv(tmp_path / "again.csv", index=False)
    assert run_cli(predict.main, ["--run", str(binary_run), "--input", str(tmp_path / "again.csv")]) == 2
    err = capsys.readouterr().err
    assert "'predicted', 'prob_spam'" in err and not (tmp_path / "again.predictions.csv").exists()


def test_json_lines_objects_in_the_text_field_are_refused_not_predicted_on_their_repr(
    binary_run, tmp_path, capsys
):
    rows = ['{"id": 1, "text": {"body": "free cash"}}', '{"id": 2, "text": {"body": "see you"}}']
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n")
    assert run_cli(predict.main, ["--run", str(binary_run), "--input", str(tmp_path / "in.jsonl")]) == 2
    assert "text column 'text' holds dict values" in capsys.readouterr().err
    assert not (tmp_path / "in.predictions.csv").exists()


def test_later_stages_take_the_threads_asked_for_not_the_training_machine_s(binary_run, tmp_path, capsys):
    """config.json keeps the thread count training resolved on its own machine (flat) and what the user
    asked for (requested): predict (like eval, export, the app) uses the latter, `auto` being this
    machine's cores, so a run trained on a larger machine does not oversubscribe a smaller one."""
    import json
    import shutil

    import torch

    from scripts.common import runs
    from scripts.common.runtime import physical_cores

    run = tmp_path / binary_run.name
    shutil.copytree(binary_run, run)
    config = json.loads((run / "config.json").read_text())
    before = torch.get_num_threads()
    try:
        for asked, expected in (("auto", physical_cores()), (1, 1)):
            config["flat"]["threads"] = 37  # resolved on a 37-core machine
            config["requested"]["threads"] = asked
            (run / "config.json").write_text(json.dumps(config))
            assert runs.threads_here(run) == asked
            torch.set_num_threads(5)
            assert predict.main(["--run", str(run), "free cash prize now"]) == 0
            assert torch.get_num_threads() == expected
    finally:
        torch.set_num_threads(before)
    capsys.readouterr()
