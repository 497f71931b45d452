"""Drive the Gradio app in headless Chromium (Debian's chromium, through Playwright).

Used by tests/test_app.py, and to take the README screenshot:
    .venv/bin/python -m tests.browser --run outputs/latest --text "..." --out notebooks/figures/app.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(run: Path, port: int) -> subprocess.Popen:
    """Start `python -m scripts.app` and wait until it accepts connections."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.app", "--run", str(run), "--port", str(port)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stdout.read()[-3000:])
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("the app did not start in 120 s")


def classify_in_browser(port: int, text: str, screenshot: Path) -> tuple[str, list[str]]:
    """Type `text`, click Classify; return the decision the page shows and the tokens it highlights as
    attributions (those with a colour); save a screenshot."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded", timeout=60_000)
        page.locator("#input-text textarea").fill(text)
        page.locator("#classify").click()
        decision = page.locator("#decision textarea")
        page.wait_for_function("el => el.value.length > 0", arg=decision.element_handle(), timeout=60_000)
        page.wait_for_timeout(500)  # let the probability bars finish drawing
        shown = decision.input_value()
        highlighted = page.locator("#attributions .token.highlighted")
        highlighted.first.wait_for(timeout=60_000)
        tokens = highlighted.all_inner_texts()
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return shown, [t.strip() for t in tokens]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="outputs/latest")
    parser.add_argument("--text", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    port = free_port()
    proc = start_app(Path(args.run), port)
    try:
        print(*classify_in_browser(port, args.text, Path(args.out)))
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
