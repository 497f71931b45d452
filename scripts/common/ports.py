"""A port checked before a server starts: one line instead of a server's traceback after a slow load."""

from __future__ import annotations

import socket

from scripts.common.errors import UserError


def parse_port(value: str, target: str) -> int:
    """PORT as a make variable gives it: a whole number from 1 to 65535."""
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise UserError(
            f"PORT={value}: give a port from 1 to 65535, e.g. make {target} PORT={DEFAULTS[target]}"
        )
    return port


DEFAULTS = {"app": 7860, "tensorboard": 6006, "serve": 8000}


def check_port_free(host: str, port: int, target: str = "app") -> None:
    """Refuse a port out of range or already taken, naming the make target's fix."""
    parse_port(str(port), target)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"cannot serve on {host}:{port} ({exc.strerror or exc}): another program uses it? "
                f"choose another port, e.g. make {target} PORT={port + 1}"
            ) from exc
