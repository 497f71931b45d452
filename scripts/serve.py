"""Entry point: a trained run behind an HTTP endpoint (LitServe: FastAPI + uvicorn, dynamic batching).

    python -m scripts.serve [--run RUN] [--host 127.0.0.1] [--port 8000] [--backend auto|onnx|torch]

POST /predict takes {"text": ...}, {"texts": [...]}, or a pair model's {"text": ..., "text_pair": ...} /
{"pairs": [[a, b], ...]} and answers {"predictions": [...]}, one object a text with make predict's columns
(`predicted`, prob_<label>; a regression's score with `low` and `high`). GET /health, GET /info, and the
OpenAPI page at /docs. Bound to 127.0.0.1 unless HOST says otherwise; any other address needs
QUICKFIT_API_KEY (clients send it as X-API-Key). SIGTERM finishes the requests in flight, then exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.common.ports import check_port_free, parse_port

HOSTS = ("127.0.0.1", "0.0.0.0", "::")  # what LitServe binds: loopback, or every interface
MAX_BATCH_SIZE = 32  # requests batched together (each up to schema.MAX_TEXTS texts)
QUEUE = "mp"  # how requests reach the model worker: mp (multiprocessing queues) | zmq (LitServe's fast_queue)
BATCH_TIMEOUT_S = 0.005  # how long the worker waits for more requests before predicting a batch
# Model workers on a CPU (auto): one a core up to this many, the cores shared among them. On 2 cores two
# workers of one thread answered 14-19 % more rows/s than one of two at 8 and 32 clients, about the same at
# 1 (bench/SERVE.md): small batches use one thread better than two.
MAX_CPU_WORKERS = 4


def worker_plan(backend: str, workers: str, threads: Any) -> tuple[int, Any]:
    """(model workers, CPU threads each): auto is one worker on a GPU, otherwise one a core (at most
    MAX_CPU_WORKERS) with the cores shared; a given thread count is each worker's."""
    from litserve.connector import check_cuda_with_nvidia_smi

    from scripts.common.runtime import physical_cores

    if workers != "auto" and not (workers.isdigit() and int(workers) >= 1):
        raise UserError(f"--workers {workers}: give a whole number of model workers (1 or more), or auto")
    gpu = backend == "torch" and check_cuda_with_nvidia_smi() > 0
    cores = physical_cores()
    count = int(workers) if workers != "auto" else 1 if gpu else min(cores, MAX_CPU_WORKERS)
    if threads == "auto" and not gpu:
        threads = max(1, cores // count)
    return count, threads


def check_host(host: str) -> None:
    """Loopback by default; every interface only with an API key (never an open model on a network)."""
    from scripts.serving.api import API_KEY_VARIABLE

    if host not in HOSTS:
        raise UserError(f"HOST={host}: give 127.0.0.1 (this machine only), or 0.0.0.0 / :: (every interface)")
    if host != "127.0.0.1" and not os.environ.get(API_KEY_VARIABLE, "").strip():
        raise UserError(
            f"HOST={host} opens the model to the network: set {API_KEY_VARIABLE} to a secret first "
            "(clients send it as the X-API-Key header), or serve on HOST=127.0.0.1"
        )


def describe(run_dir: Path, backend: str) -> dict[str, Any]:
    """GET /info's model part: which run, task, labels and backend answer."""
    from scripts.predict import resolved_backend
    from scripts.serving.schema import MAX_BODY_BYTES, MAX_CHARS, MAX_TEXTS

    record = runs.read_record(run_dir)
    return {
        "run": run_dir.name,
        "task": record["task"],
        "pair": bool(record.get("text_pair")),
        "labels": record["labels"],
        "backend": resolved_backend(run_dir, backend),
        "limits": {
            "texts_per_request": MAX_TEXTS,
            "characters_per_text": MAX_CHARS,
            "body_bytes": MAX_BODY_BYTES,
        },
    }


def build_server(
    run_dir: Path,
    backend: str,
    threads: Any,
    queue: str = QUEUE,
    spinning: bool = True,
    workers: str = "auto",
) -> Any:
    import litserve as ls
    from fastapi.exceptions import RequestValidationError

    from scripts.serving.api import PairAPI, SingleTextAPI
    from scripts.serving.schema import MAX_BODY_BYTES, validation_answer

    info = describe(run_dir, backend)
    api_class = PairAPI if info["pair"] else SingleTextAPI
    count, threads = worker_plan(info["backend"], workers, threads)
    api = api_class(run_dir, backend, threads, MAX_BATCH_SIZE, BATCH_TIMEOUT_S, spinning)
    server = ls.LitServer(
        api,
        accelerator="cpu" if info["backend"] == "onnx" else "auto",
        workers_per_device=count,
        timeout=60,
        model_metadata=info,
        max_payload_size=MAX_BODY_BYTES,
        fast_queue=queue == "zmq",
    )
    server.app.add_exception_handler(RequestValidationError, validation_answer)
    return server


def stop_gracefully(server: Any) -> None:
    """On SIGTERM: the HTTP processes stop accepting and finish their requests in flight (uvicorn's own
    graceful shutdown, while the model worker still answers), then LitServe stops the model worker."""

    main_pid = os.getpid()

    def handler(signum: int, frame: Any) -> None:
        # Forked helpers (LitServe's queue manager) inherit this handler: a SIGTERM sent to the whole group
        # leaves them to the main process, which stops them last
        if os.getpid() != main_pid:
            return
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM does not cut the first short
        http = [p for p in multiprocessing.active_children() if p.name.startswith("LitServer-")]
        for process in http:
            process.terminate()
        for process in http:
            process.join(timeout=60)
        # LitServe's own stop (the one Ctrl-C takes): the main thread waits on a manager proxy that this
        # handler must not call into
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="run folder or name (default: outputs/latest)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    parser.add_argument(
        "--backend", default="auto", help="auto (ONNX when the run has an export) | torch | onnx"
    )
    parser.add_argument(
        "--workers", default="auto", help="model workers (auto: 1 on a GPU, else one a core up to 4)"
    )
    parser.add_argument(
        "--threads", default="auto", help="each model worker's CPU threads (auto: the cores shared)"
    )
    parser.add_argument(
        "--queue",
        default=QUEUE,
        choices=("mp", "zmq"),
        help="requests to the model worker: mp | zmq (ZeroMQ)",
    )
    parser.add_argument(
        "--no-spin",
        action="store_true",
        help="ONNX Runtime's threads sleep between batches instead of spinning (cores shared with HTTP)",
    )
    args = parser.parse_args(argv)
    run_dir, _ = runs.find_from_cli(args.run)
    check_host(args.host)
    port = parse_port(args.port, "serve")
    if port < 1024:
        raise UserError(f"PORT={port}: LitServe serves on ports 1024 to 65535; e.g. make serve PORT=8000")
    check_port_free(args.host, port, "serve")
    # not the run's `threads`: that is the training machine's count, and one worker's, not the server's
    if args.threads != "auto" and not args.threads.isdigit():
        raise UserError(f"--threads {args.threads}: give a whole number of CPU threads, or auto")
    server = build_server(run_dir, args.backend, args.threads, args.queue, not args.no_spin, args.workers)
    stop_gracefully(server)
    shown = "127.0.0.1" if args.host == "127.0.0.1" else args.host
    say(f"serving {run_dir.name} on http://{shown}:{port}/predict (docs: /docs; stop with Ctrl-C or SIGTERM)")
    logging.getLogger("litserve").setLevel(logging.WARNING)
    server.run(host=args.host, port=port, generate_client_file=False, log_level="error", num_api_servers=1)
    say("server stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
