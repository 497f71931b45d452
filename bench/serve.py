"""Load test of make serve, loopback only, bounded in requests and time: for each backend (PyTorch, and ONNX
Runtime when the run has an export), a real `python -m scripts.serve` process answers 1, 8 and 32 concurrent
clients (one text a request, or --texts-per-request; keep-alive connections); throughput and p50 / p95 /
p99 latency, errors counted, and make predict's rows/s on the same texts and backend measured in the same
run for the ratio. A soak at the highest concurrency then checks the server's memory (every process of it)
before and after.

    python -m bench.serve [--run outputs/latest] [--requests 400] [--soak 60] [--out bench/SERVE.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common.provenance import bench_command

PROJECT = Path(__file__).resolve().parent.parent
CLIENTS = (1, 8, 32)
SOAK_SEGMENTS = 6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def texts_of(run: Path, rows: int) -> list[Any]:
    """The run's own split texts (or pairs), repeated up to rows."""
    from scripts.common import runs, tasks
    from scripts.data.dataset import load_split

    record = runs.read_record(run)
    inputs = tasks.inputs_of(record)
    found = [
        x
        for part in ("test", "validation", "train")
        for x in inputs.rows(load_split(runs.split_path(run, part), record["task"]))
    ]
    return (found * (rows // max(1, len(found)) + 1))[:rows]


def body(items: list[Any]) -> dict[str, Any]:
    """One request: a text (a pair), or a list of them."""
    if len(items) > 1:
        return {"pairs": [list(x) for x in items]} if isinstance(items[0], tuple) else {"texts": items}
    item = items[0]
    return {"text": item[0], "text_pair": item[1]} if isinstance(item, tuple) else {"text": item}


def predict_rate(run: Path, backend: str, items: list[Any]) -> float:
    """make predict's rows/s on these texts: the same predictor and predict_frame over its blocks of rows."""
    import pandas as pd

    from scripts.common import runs
    from scripts.data.blocks import CHUNK_ROWS
    from scripts.model.prediction import predict_frame
    from scripts.predict import choose_predictor

    predictor = choose_predictor(run, backend, False, runs.threads_here(run))
    pair = isinstance(items[0], tuple)
    frame = pd.DataFrame(
        {"text": [a for a, _ in items], "text_b": [b for _, b in items]} if pair else {"text": items}
    )
    columns = ["text", "text_b"] if pair else ["text"]
    predict_frame(predictor, frame.head(64), columns)  # warm
    start = time.perf_counter()
    for i in range(0, len(frame), CHUNK_ROWS):
        predict_frame(predictor, frame.iloc[i : i + CHUNK_ROWS], columns)
    return len(frame) / (time.perf_counter() - start)


def server_processes(pid: int) -> list[int]:
    """The server's process and every process under it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except OSError:
            continue
    return found


def server_memory(pid: int) -> float:
    """Resident memory (MiB) of the server and every process under it."""
    total = 0
    for current in server_processes(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_load(
    pid: int, url: str, items: list[Any], clients: int, requests: int, seconds: float, per_request: int = 1
) -> dict:
    """load(), with the CPU each side used during it (in cores): the server's processes, its busiest
    process (the model worker), and this process (the clients), so a ratio under 1 can be read."""
    processes = server_processes(pid)
    before, mine = {p: cpu_seconds(p) for p in processes}, os.times()
    row = asyncio.run(load(url, items, clients, requests, seconds, per_request))
    used = [cpu_seconds(p) - before[p] for p in processes]
    after = os.times()
    row["cpu_server"] = sum(used) / row["seconds"]
    row["cpu_worker"] = max(used) / row["seconds"]
    row["cpu_clients"] = (after.user + after.system - mine.user - mine.system) / row["seconds"]
    return row


async def load(
    url: str, items: list[Any], clients: int, requests: int, seconds: float, per_request: int = 1
) -> dict[str, Any]:
    """clients concurrent loops, each sending per_request texts a request until `requests` are sent or time
    is up; rows/s counts texts.
    aiohttp, not httpx: the clients share the server's two cores here, and aiohttp's client costs a
    fraction of httpx's CPU a request (the load generator should take as little of them as it can)."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def loop() -> None:
            nonlocal sent, errors
            while sent < requests and time.perf_counter() < deadline:
                first = (sent * per_request) % len(items)
                chosen = (items + items[:per_request])[first : first + per_request]
                sent += 1
                started = time.perf_counter()
                try:
                    async with session.post(f"{url}/predict", json=body(chosen)) as response:
                        await response.read()
                        ok = response.status == 200
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(clients)))
        wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "clients": clients,
        "per_request": per_request,
        "requests": len(latencies),
        "errors": errors,
        "rows_per_s": len(latencies) * per_request / wall,
        "seconds": wall,
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
    }


def start(run: Path, backend: str, variant: str = "") -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    extra = variant.split()  # the variant's own make serve arguments (--threads 1, --queue zmq ...)
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.serve", "--run", str(run), "--port", str(port), "--backend", backend]
        + extra,
        cwd=PROJECT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).text == "ok":
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("the server did not start in 300 s")


def bench_backend(
    run: Path,
    backend: str,
    items: list[Any],
    requests: int,
    soak: float,
    variant: str = "",
    per_request: tuple[int, ...] = (1,),
) -> dict[str, Any]:
    rate = predict_rate(run, backend, items)
    process, url = start(run, backend, variant)
    try:
        asyncio.run(load(url, items, 8, 64, 60))  # warm: the first batches load lazily
        rows = [
            measured_load(process.pid, url, items, clients, requests, 120, k)
            for k in per_request
            for clients in CLIENTS
        ]
        memory = [server_memory(process.pid)]
        segments = []  # the soak in SOAK_SEGMENTS parts, memory after each: warm-up and growth told apart
        for _ in range(SOAK_SEGMENTS):
            segments.append(asyncio.run(load(url, items, CLIENTS[-1], 10**9, soak / SOAK_SEGMENTS)))
            memory.append(server_memory(process.pid))
        soaked = {
            "requests": sum(s["requests"] for s in segments),
            "errors": sum(s["errors"] for s in segments),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    # make predict's rate again, once the server is gone: the ratio's unit is the mean of both
    rates = (rate, predict_rate(run, backend, items))
    return {
        "backend": backend + (f", `{variant}`" if variant else ""),
        "predict_rows_per_s": sum(rates) / 2,
        "predict_rates": rates,
        "loads": rows,
        "soak": soaked,
        "memory": memory,
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | texts a request | clients | requests | errors | rows/s | / make predict | p50 ms "
        "| p95 ms | p99 ms | p99 / p50 | CPU cores: server (model worker), clients |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for row in r["loads"]:
            lines.append(
                f"| {r['backend']} | {row.get('per_request', 1)} | {row['clients']} | {row['requests']} | "
                f"{row['errors']} | "
                f"{row['rows_per_s']:.1f} | {row['rows_per_s'] / r['predict_rows_per_s']:.2f} | "
                f"{row['p50']:.1f} | {row['p95']:.1f} | {row['p99']:.1f} | {row['p99'] / row['p50']:.2f} | "
                f"{row['cpu_server']:.2f} ({row['cpu_worker']:.2f}), {row['cpu_clients']:.2f} |"
            )
    lines += [
        "",
        "| backend | make predict rows/s (before, after the server) | soak requests | soak errors | "
        "memory before, after each sixth of "
        "the soak (MiB) | growth, first half / second half |",
    ]
    lines.append("|---|---|---|---|---|---|")
    for r in results:
        memory = r["memory"]
        half = len(memory) // 2
        lines.append(
            f"| {r['backend']} | {r['predict_rows_per_s']:.1f} ({r['predict_rates'][0]:.1f}, "
            f"{r['predict_rates'][1]:.1f}) | {r['soak']['requests']} | "
            f"{r['soak']['errors']} | {', '.join(f'{m:.0f}' for m in memory)} | "
            f"{memory[half] - memory[0]:+.0f} / {memory[-1] - memory[half]:+.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(PROJECT / "outputs" / "latest"))
    parser.add_argument("--requests", type=int, default=400, help="requests at each concurrency")
    parser.add_argument("--soak", type=float, default=60, help="seconds of the memory soak")
    parser.add_argument("--out", default=str(PROJECT / "bench" / "SERVE.md"))
    parser.add_argument(
        "--variants",
        default="",
        help='make serve arguments to compare side by side, ";" between variants, e.g. '
        '"--threads 1;--queue zmq" (default: make serve\'s own)',
    )
    parser.add_argument("--backends", default="", help="e.g. torch (default: torch, and onnx with an export)")
    parser.add_argument(
        "--texts-per-request",
        default="1",
        help='texts (or pairs) a request, e.g. "1,8": each measured at every concurrency on the same server',
    )
    args = parser.parse_args(argv)
    run = Path(args.run).resolve()
    if not (run / "run.json").exists():
        raise SystemExit(f"{run} is not a finished run: make train first, or give --run")
    items = texts_of(run, max(args.requests, 512))
    backends = [b for b in args.backends.split(",") if b] or ["torch"] + (
        ["onnx"] if (run / "onnx").is_dir() else []
    )
    per_request = tuple(int(k) for k in args.texts_per_request.split(","))
    results = [
        bench_backend(run, b, items, args.requests, args.soak, v.strip(), per_request)
        for b in backends
        for v in args.variants.split(";")
    ]
    command = bench_command("bench.serve", sys.argv[1:] if argv is None else argv)
    text = (
        "# make serve under load\n\n"
        f"Command: `{command}` on {os.cpu_count()} CPU(s), run `{run.name}`: a real server process "
        "(LitServe; make serve's model workers, batches of up to 32 requests each) on 127.0.0.1, "
        f"clients in the same machine ({', '.join(map(str, per_request))} text(s) a request, keep-alive), "
        "make predict's rows/s measured "
        "in the same run on the same texts and backend (its blocks of 2,000 rows, batches of up to 64 "
        "cut by length).\n\n" + table(results) + "\n"
    )
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
