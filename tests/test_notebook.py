"""The walkthrough runs top to bottom (tiny model, small slice); any cell error fails the test."""

import json

import pytest

from scripts import notebook

pytestmark = (
    pytest.mark.slow
)  # subprocesses that import Simple Transformers: make test runs it, make test-fast not


def test_walkthrough_executes(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("QUICKFIT_NOTEBOOK_TINY", str(tiny_model))
    monkeypatch.setenv("QUICKFIT_NOTEBOOK_OUTPUTS", str(tmp_path / "outputs"))
    out = notebook.execute(tmp_path / "walkthrough.ipynb", timeout=600)
    cells = json.loads(out.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code)
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
    assert (tmp_path / "outputs" / "latest" / "eval" / "metrics.json").exists()


def test_stored_notebook_has_no_outputs():
    stored = json.loads(notebook.NOTEBOOK.read_text())
    assert all(
        not c.get("outputs") and not c.get("execution_count")
        for c in stored["cells"]
        if c["cell_type"] == "code"
    )
