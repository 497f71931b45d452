"""make serve and prediction beyond one process: a real server process over HTTP (start, answers as make
predict gives them, requests from many clients at once, hostile requests, the API key, SIGTERM with a request
in flight); SHARD=i/N against the single-process output; ENGINE=ray on a local Ray."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from scripts import export, predict, serve
from scripts.common.errors import UserError, run_cli
from scripts.data import blocks
from tests.conftest import make_frame, make_pair_frame
from tests.helpers import tiny_args, train_run

PROJECT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(run: Path, backend: str = "torch", key: str | None = None, extra: tuple[str, ...] = ()):
    """A `python -m scripts.serve` process on a free port, ready (GET /health) before the test talks to it."""
    port, env = free_port(), {**os.environ, "PYTHONPATH": str(PROJECT)}
    env.pop("QUICKFIT_API_KEY", None)
    if key:
        env["QUICKFIT_API_KEY"] = key
    command = [
        sys.executable,
        "-m",
        "scripts.serve",
        "--run",
        str(run),
        "--port",
        str(port),
        "--backend",
        backend,
        *extra,
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    headers = {"X-API-Key": key} if key else {}
    try:
        deadline = time.time() + 180
        while True:
            assert process.poll() is None, process.stdout.read().decode(errors="replace")[-3000:]
            try:
                if httpx.get(f"{url}/health", headers=headers, timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "the server did not start in 180 s"
            time.sleep(0.5)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def runs(tiny_model, tmp_path_factory):
    """A pair regression (similarity scores) and a binary classifier of one text, with its ONNX export."""
    root = tmp_path_factory.mktemp("serve")
    make_pair_frame(200, score=True).to_csv(root / "pairs.csv", index=False)
    make_frame({"ham": 90, "spam": 50}).to_csv(root / "binary.csv", index=False)
    args = ["num_train_epochs=2", "learning_rate=0.003"]
    found = {
        "pairs": train_run(root / "pairs.csv", tiny_args(tiny_model, root / "pairs_out") + args),
        "binary": train_run(root / "binary.csv", tiny_args(tiny_model, root / "binary_out") + args),
    }
    assert run_cli(export.main, ["--run", str(found["binary"])]) == 0
    return found


def expected(run: Path, frame: pd.DataFrame, tmp_path: Path, backend: str = "torch") -> pd.DataFrame:
    """make predict's output for the frame's rows."""
    frame.to_csv(tmp_path / "rows.csv", index=False)
    predict.predict_file(run, tmp_path / "rows.csv", tmp_path / "rows.out.csv", threads=1, backend=backend)
    return pd.read_csv(tmp_path / "rows.out.csv", keep_default_na=False)


def test_a_pair_regression_server_answers_as_make_predict_under_load_and_hostile_requests(runs, tmp_path):
    run = runs["pairs"]
    rows = pd.read_csv(run / "splits" / "test.csv", keep_default_na=False).head(20)
    frame = pd.DataFrame({"question1": rows["text"], "question2": rows["text_b"]})
    truth = expected(run, frame, tmp_path)
    with served(run) as (url, process):
        info = httpx.get(f"{url}/info").json()["model"]
        assert (info["task"], info["pair"], info["labels"], info["backend"]) == (
            "regression",
            True,
            ["score"],
            "torch",
        )
        assert "/predict" in httpx.get(f"{url}/openapi.json").json()["paths"]
        assert httpx.get(f"{url}/docs").status_code == 200

        pairs = frame.to_numpy().tolist()
        answer = httpx.post(f"{url}/predict", json={"pairs": pairs}).json()["predictions"]
        got = pd.DataFrame(answer)
        assert list(got.columns) == ["predicted", "low", "high"]
        np.testing.assert_allclose(got.to_numpy(), truth[["predicted", "low", "high"]].to_numpy(), atol=2e-6)

        def one(i: int) -> float:  # 20 clients at once: batched together, each answer its own
            body = {"text": pairs[i][0], "text_pair": pairs[i][1]}
            return httpx.post(f"{url}/predict", json=body, timeout=60).json()["predictions"][0]["predicted"]

        with ThreadPoolExecutor(20) as pool:
            singles = list(pool.map(one, range(20)))
        np.testing.assert_allclose(singles, truth["predicted"], atol=2e-6)
        # the load bench's clients (aiohttp, one pair a request): every request answered, latencies counted
        from bench.serve import load

        found = asyncio.run(load(url, [tuple(p) for p in pairs], 4, 12, 60))
        assert (found["requests"], found["errors"]) == (12, 0) and 0 < found["p50"] <= found["p99"]
        listed = asyncio.run(load(url, [tuple(p) for p in pairs], 2, 6, 60, per_request=5))  # "pairs" lists
        assert (listed["requests"], listed["errors"]) == (6, 0)
        assert listed["rows_per_s"] == pytest.approx(30 / listed["seconds"])

        hostile = [  # (what, request keyword arguments, expected status)
            (
                "malformed JSON",
                {"content": b'{"text": ', "headers": {"Content-Type": "application/json"}},
                422,
            ),
            ("not JSON at all", {"content": b"hello"}, 422),
            ("a list body", {"json": [1, 2]}, 422),
            ("null", {"json": None}, 422),
            ("no text", {"json": {}}, 422),
            ("one text for a pair model", {"json": {"text": "a cat"}}, 422),
            ("a number", {"json": {"text": 5, "text_pair": "a"}}, 422),
            ("a list as text", {"json": {"text": ["a"], "text_pair": "b"}}, 422),
            ("an unknown field", {"json": {"text": "a", "text_pair": "b", "extra": 1}}, 422),
            ("empty text", {"json": {"text": "", "text_pair": "b"}}, 422),
            ("blank text", {"json": {"text": " \n\t", "text_pair": "b"}}, 422),
            ("a pair of three", {"json": {"pairs": [["a", "b", "c"]]}}, 422),
            ("no pairs", {"json": {"pairs": []}}, 422),
            ("65 pairs", {"json": {"pairs": [["a", "b"]] * 65}}, 422),
            ("20,001 characters", {"json": {"text": "a" * 20_001, "text_pair": "b"}}, 422),
            (
                "a lone surrogate",
                {
                    "content": b'{"text": "\\ud800", "text_pair": "b"}',
                    "headers": {"Content-Type": "application/json"},
                },
                422,
            ),
            (
                "6 MB body",
                {"content": b"a" * 6_000_000, "headers": {"Content-Type": "application/json"}},
                413,
            ),
        ]
        for what, request, status in hostile:
            response = httpx.post(f"{url}/predict", timeout=60, **request)
            assert response.status_code == status, (what, response.status_code, response.text[:300])
            assert "Traceback" not in response.text and len(response.text) < 5000, what
        limit = httpx.post(f"{url}/predict", json={"pairs": [["a", "b"]] * 65}).json()["detail"][0]["msg"]
        assert "64" in limit
        edge = [
            "😀 émoji 👩‍👩‍👧",
            "مرحبا بالعالم",
            "zero\u200bwidth",
            "nul\x00char",
            "e\u0301\u0301\u0301",
            "\ufeffbom",
        ]
        answer = httpx.post(f"{url}/predict", json={"pairs": [[t, t] for t in edge]})
        assert answer.status_code == 200 and all(
            np.isfinite(p["predicted"]) for p in answer.json()["predictions"]
        )

        slow = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))  # a client that stalls
        slow.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 60\r\n\r\n{"
        )
        assert httpx.post(f"{url}/predict", json={"pairs": pairs[:1]}, timeout=30).status_code == 200
        slow.close()
        assert httpx.get(f"{url}/health").text == "ok"

        with ThreadPoolExecutor(1) as pool:  # SIGTERM with a request in flight: answered, then a clean exit
            long = [["word " * 300, "other " * 300]] * 64
            flight = pool.submit(httpx.post, f"{url}/predict", json={"pairs": long}, timeout=120)
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            assert flight.result().status_code == 200
        assert process.wait(60) == 0


def test_an_onnx_server_asks_for_its_api_key(runs, tmp_path):
    """(On LitServe's ZeroMQ queue, ONNX Runtime's threads sleeping between batches: the same answers.)"""
    run = runs["binary"]
    frame = pd.read_csv(run / "splits" / "test.csv", keep_default_na=False).head(8)[["text"]]
    truth = expected(run, frame, tmp_path, backend="onnx")
    with served(run, "onnx", key="s3cret", extra=("--queue", "zmq", "--no-spin")) as (url, _):
        texts = {"texts": frame["text"].tolist()}
        assert httpx.post(f"{url}/predict", json=texts).status_code == 401
        assert httpx.post(f"{url}/predict", json=texts, headers={"X-API-Key": "s3cre"}).status_code == 401
        assert httpx.get(f"{url}/info").status_code == 401
        key = {"X-API-Key": "s3cret"}
        assert httpx.get(f"{url}/info", headers=key).json()["model"]["backend"] == "onnx"
        got = pd.DataFrame(httpx.post(f"{url}/predict", json=texts, headers=key).json()["predictions"])
        assert list(got["predicted"]) == list(truth["predicted"])
        np.testing.assert_allclose(
            got[["prob_ham", "prob_spam"]], truth[["prob_ham", "prob_spam"]], atol=2e-6
        )
        one = httpx.post(f"{url}/predict", json={"text": frame["text"][0]}, headers=key).json()["predictions"]
        assert one[0]["predicted"] == truth["predicted"][0]


def test_the_network_is_refused_without_a_key_and_other_addresses_always(monkeypatch, capsys):
    monkeypatch.delenv("QUICKFIT_API_KEY", raising=False)
    for host in ("0.0.0.0", "::", "192.168.1.5"):
        with pytest.raises(UserError):
            serve.check_host(host)
    serve.check_host("127.0.0.1")
    monkeypatch.setenv("QUICKFIT_API_KEY", "k")
    serve.check_host("0.0.0.0")
    with pytest.raises(UserError, match="127.0.0.1"):
        serve.check_host("10.0.0.1")
    monkeypatch.delenv("QUICKFIT_API_KEY")
    assert run_cli(serve.main, ["--run", "no-such-run", "--host", "0.0.0.0"]) == 2


def test_a_bad_thread_count_is_one_line(runs, capsys):
    assert run_cli(serve.main, ["--run", str(runs["binary"]), "--threads", "two"]) == 2
    assert "--threads two: give a whole number" in capsys.readouterr().err


def test_shards_concatenate_to_the_single_process_output_exactly(runs, tmp_path, monkeypatch):
    run = runs["binary"]
    monkeypatch.setattr(blocks, "CHUNK_ROWS", 7)  # 50 rows: 8 blocks
    frame = make_frame({"ham": 30, "spam": 20}, seed=3)
    frame.to_csv(tmp_path / "new.csv", index=False)
    whole = predict.predict_file(
        run, tmp_path / "new.csv", tmp_path / "whole.csv", threads=1, backend="torch"
    )
    assert whole["rows"] == 50
    parts = []
    for i in (1, 2, 3):
        result = predict.predict_file(run, tmp_path / "new.csv", threads=1, backend="torch", shard=(i, 3))
        assert result["output"].endswith(f"new.predictions.shard-{i}-of-3.csv")
        parts.append(Path(result["output"]).read_bytes())
    lines = [p.splitlines(keepends=True) for p in parts]
    assert lines[0][0] == lines[1][0] == lines[2][0]  # every shard has the header
    joined = lines[0][0] + b"".join(b"".join(part[1:]) for part in lines)
    assert joined == (tmp_path / "whole.csv").read_bytes()
    assert [len(part) - 1 for part in lines] == [14, 21, 15]  # whole blocks: 2, 3 and 3 (the last of 1 row)
    empty = predict.predict_file(run, tmp_path / "new.csv", tmp_path / "e.csv", threads=1, shard=(1, 20))
    assert empty["rows"] == 0 and (tmp_path / "e.csv").read_text().count("\n") == 1
    for bad in ("0/3", "4/3", "a/b", "1/0", "2"):
        with pytest.raises(UserError, match="SHARD"):
            blocks.parse_shard(bad)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_ray_gives_make_predict_s_rows_for_every_file(runs, tmp_path, kind):
    from scripts.serving.ray_batch import predict_folder

    run = runs["binary"]
    folder = tmp_path / "shards"
    folder.mkdir()
    frames = {
        "a": make_frame({"ham": 25, "spam": 15}, seed=4),
        "b": make_frame({"ham": 12, "spam": 8}, seed=6),
    }
    for name, frame in frames.items():
        frame.loc[0, "text"] = "" if name == "a" else frame.loc[0, "text"]  # an empty text: kept, no label
        if kind == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    result = predict_folder(run, folder, tmp_path / "out", backend="torch", workers=2)
    assert result == {"rows": 60, "files": 2, "output": str(tmp_path / "out"), "workers": 2}
    for name, frame in frames.items():
        truth = expected(run, frame, tmp_path)
        path = tmp_path / "out" / f"{name}.predictions.{kind}"
        got = pd.read_csv(path, keep_default_na=False) if kind == "csv" else pd.read_parquet(path)
        assert list(got.columns) == list(truth.columns) and len(got) == len(truth)
        assert list(got["text"]) == list(truth["text"]) and list(got["predicted"]) == list(truth["predicted"])
        probs = got[["prob_ham", "prob_spam"]].replace("", np.nan).astype(float)
        np.testing.assert_allclose(
            probs, truth[["prob_ham", "prob_spam"]].replace("", np.nan).astype(float), atol=2e-6
        )


def test_ray_refuses_a_folder_it_cannot_read_before_starting(runs, tmp_path):
    from scripts.serving.ray_batch import predict_folder

    run = runs["binary"]
    with pytest.raises(UserError, match="not a folder"):
        predict_folder(run, tmp_path / "none")
    (tmp_path / "in").mkdir()
    with pytest.raises(UserError, match="no .csv or .parquet"):
        predict_folder(run, tmp_path / "in")
    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "in" / "a.csv", index=False)
    with pytest.raises(UserError, match="'text' not found in a.csv"):
        predict_folder(run, tmp_path / "in")
    shutil.rmtree(tmp_path / "in")
    assert not (tmp_path / "in.predictions").exists() and not list(tmp_path.glob(".*partial"))
    assert json.loads((run / "run.json").read_text())["task"] == "binary"


def test_a_multi_label_model_is_served_as_make_predict_answers(tiny_model, tmp_path):
    """The model worker in process on a multi-label run: the label sets and per-label probabilities of make
    predict, on both backends."""
    from scripts.serving.api import SingleTextAPI
    from tests.helpers import write_multilabel_csv

    run = train_run(write_multilabel_csv(tmp_path / "ml.csv", 160), tiny_args(tiny_model, tmp_path / "out"))
    assert run_cli(export.main, ["--run", str(run)]) == 0
    texts = pd.read_csv(run / "splits" / "test.csv", keep_default_na=False)["text"].head(6).tolist()
    for backend in ("torch", "onnx"):
        truth = expected(run, pd.DataFrame({"text": texts}), tmp_path, backend).drop(columns=["text"])
        api = SingleTextAPI(run, backend, 1, 16, 0.005)
        api.setup("cpu")
        answers = api.predict([texts[:4], texts[4:]])
        got = pd.DataFrame(answers[0] + answers[1])
        assert list(got.columns) == list(truth.columns) and len(got.columns) > 3
        pd.testing.assert_frame_equal(got, truth, check_dtype=False, atol=2e-6)


def test_cpu_servers_run_a_worker_a_core_and_a_gpu_one(monkeypatch):
    """auto: one model worker a core (at most MAX_CPU_WORKERS), the cores shared among them; one worker on a
    GPU; given workers and threads are kept; a bad worker count is refused."""
    from litserve import connector

    from scripts.common import runtime

    monkeypatch.setattr(connector, "check_cuda_with_nvidia_smi", lambda: 0)
    for cores, plan in ((1, (1, 1)), (2, (2, 1)), (8, (4, 2)), (32, (4, 8))):
        monkeypatch.setattr(runtime, "physical_cores", lambda cores=cores: cores)
        assert serve.worker_plan("torch", "auto", "auto") == plan
        assert serve.worker_plan("onnx", "auto", "auto") == plan
    assert serve.worker_plan("torch", "3", "auto") == (3, 10)
    assert serve.worker_plan("onnx", "auto", "5") == (4, "5")
    monkeypatch.setattr(connector, "check_cuda_with_nvidia_smi", lambda: 1)
    assert serve.worker_plan("torch", "auto", "auto") == (1, "auto")
    assert serve.worker_plan("onnx", "auto", "auto") == (4, 8)  # ONNX runs on the CPU
    for bad in ("0", "two", "-1"):
        with pytest.raises(UserError, match=f"--workers {bad}: give a whole number"):
            serve.worker_plan("torch", bad, "auto")


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_batches_cut_by_length_give_the_full_batches_outputs(runs, backend):
    """The predictor's batches of similar length (length_runs.sub_batches at its pass cost) give the outputs
    of full batches, in input order, in more and shorter passes."""
    from scripts.predict import choose_predictor

    predictor = choose_predictor(runs["binary"], backend, False, 1)
    texts = [" ".join(["word"] * n) + f" {n}" for n in (40, 2, 25, 3, 60, 1, 33, 4, 2, 50)]
    padded: list[int] = []
    if backend == "torch":
        hook = predictor.model.register_forward_pre_hook(
            lambda module, args, kwargs: padded.append(kwargs["input_ids"].numel()), with_kwargs=True
        )
    else:
        run = predictor.model.run
        predictor.model.run = lambda names, feed: padded.append(feed["input_ids"].size) or run(names, feed)
    predictor.pass_cost = 1e9
    full = predictor.predict_logits(texts)
    full_positions, full_passes = sum(padded), len(padded)
    padded.clear()
    predictor.pass_cost = 2.0
    cut = predictor.predict_logits(texts)
    if backend == "torch":
        hook.remove()
    np.testing.assert_allclose(cut, full, atol=1e-5)
    assert full_passes == 1 and len(padded) > 1 and sum(padded) < full_positions
    one_by_one = np.concatenate([predictor.predict_logits([t]) for t in texts])
    np.testing.assert_allclose(cut, one_by_one, atol=1e-5)
