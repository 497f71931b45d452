"""`make train NPROC=N [TORCHRUN_ARGS=...]`: start the training processes through torchrun.

One machine:      make train NPROC=2            (torchrun --standalone --nproc-per-node=2)
Several machines: make train NPROC=8 TORCHRUN_ARGS="--nnodes=2 --node-rank=0 --rdzv-endpoint=host:29500"
                  (the same command on each machine with its --node-rank; data and outputs_dir on a
                  shared filesystem, which RESUME=1 needs too).

torchrun's own error report is replaced by one line: which rank failed and how; the ranks print their
own errors (a bad setting is rank 0's one line, exit code 2).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
from collections.abc import Sequence

from scripts.common.errors import EXIT_USER_ERROR, UserError, exception_chain

LAUNCH_OPTIONS = ("--nproc", "--torchrun-args")


def worker_argv(argv: Sequence[str]) -> list[str]:
    """The training arguments without the launch options (the ranks must not launch again)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        name = item.split("=", 1)[0]
        if name in LAUNCH_OPTIONS:
            skip = "=" not in item
            continue
        out.append(item)
    return out


def check_nproc(value: str) -> int:
    """NPROC: a whole number from 1 to the GPUs (CUDA) or CPU cores here."""
    import torch

    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    cuda = torch.cuda.is_available()
    limit = torch.cuda.device_count() if cuda else (os.cpu_count() or 1)
    what = "GPUs" if cuda else "CPU cores"
    if not 1 <= n <= limit:
        raise UserError(
            f"NPROC={value!r}: give a whole number of training processes from 1 to {limit} (the {what} "
            f"on this machine), e.g. make train NPROC={min(2, limit)}"
        )
    return n


def torchrun(nproc: str, extra: str, argv: Sequence[str]) -> int:
    """Run `python -m scripts.train ARGV` on nproc processes under torchrun; 0, 2 (one line) or 130."""
    import torch.distributed as dist

    n = check_nproc(nproc)
    if not dist.is_available():
        raise UserError("this PyTorch build has no torch.distributed: install the standard torch wheel")
    try:
        options = shlex.split(extra)
    except ValueError as exc:
        raise UserError(f"TORCHRUN_ARGS={extra!r}: {exc}; quote each value once") from exc
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    try:
        parsed = get_args_parser().parse_args(
            [
                *(options or ["--standalone"]),
                f"--nproc-per-node={n}",
                "--max-restarts=0",
                "--module",
                "scripts.train",
                *argv,
            ]
        )
    except SystemExit as exc:
        raise UserError(
            f"TORCHRUN_ARGS={extra!r} is not understood by torchrun; see `torchrun --help`"
        ) from exc
    if parsed.training_script != "scripts.train" or list(parsed.training_script_args) != list(argv):
        raise UserError(
            f"TORCHRUN_ARGS={extra!r} holds a word that is not a torchrun option "
            f"({parsed.training_script!r}); "
            'give options only, e.g. TORCHRUN_ARGS="--nnodes=2 --node-rank=0 --rdzv-endpoint=host:29500"'
        )
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # we say what failed
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # each rank sets its own share (runtime.set_threads)
    try:
        run(parsed)
    except ChildFailedError as exc:
        return _failed(exc)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A stop signal: torch's agent raises SignalException, or, when the signal lands inside its own
        # metrics wrapper, an UnboundLocalError raised while handling it. Either way rank 0 has said how
        # to resume and the agent has stopped every rank.
        if any(isinstance(cause, SignalException) for cause in exception_chain(exc)):
            return 130
        if isinstance(exc, (ValueError, RuntimeError)):  # torchrun checks its options before starting
            raise UserError(f"TORCHRUN_ARGS={extra!r}: {str(exc).splitlines()[0][:160]}") from exc
        raise
    return 0


def _failed(exc) -> int:
    """One line for a failed rank; a rank's own user error was already printed by rank 0."""
    failures = exc.failures
    if failures.get(0) is not None and failures[0].exitcode == EXIT_USER_ERROR:
        return EXIT_USER_ERROR  # rank 0 printed the line
    if all(f.exitcode == 130 for f in failures.values()):
        return 130  # interrupted: rank 0 said how to resume
    rank, failure = exc.get_first_failure()
    code = failure.exitcode
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    print(
        f"error: training process rank {rank} {how}, so every rank was stopped; nothing was published and "
        "the last good run is unchanged (an epoch checkpoint, if one was written, is kept for RESUME=1). "
        "Its own messages are above; rerun with DEBUG=1 for a traceback",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_USER_ERROR
