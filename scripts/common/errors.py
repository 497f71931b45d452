"""One way to fail: a user error is one clear line and exit code 2; `--debug` shows the traceback."""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem the user can fix: the message names the problem and the fix."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line and exit code 2 like every other user error (not a usage block):
    `make sweep TRIALS=abc` says `argument --trials (TRIALS=): invalid int value: 'abc'`."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(
            r"argument (--([\w-]+))",
            lambda m: f"argument {m.group(1)} ({m.group(2).upper().replace('-', '_')}=)",
            message,
        )
        raise UserError(f"{message}; `make help` lists the targets and their variables")


def run_cli(main: Callable[[Sequence[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run an entry point; print user errors as one line (no traceback unless --debug)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    try:
        return int(main(argv) or 0)
    except UserError as exc:
        if debug:
            traceback.print_exc()
        if os.environ.get("RANK", "0") == "0":  # the other ranks of NPROC=N meet the same error
            print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted: nothing was published; the last good run is unchanged.", file=sys.stderr)
        return 130


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """The exception and its causes (or contexts), outermost first, each once."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
