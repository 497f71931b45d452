"""The house rules a newcomer relies on: small modules and functions, a module map that matches the tree,
later stages free of training code and of import-time side effects, a README whose links resolve."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SCRIPTS = PROJECT / "scripts"
MODULES = sorted(p for p in SCRIPTS.rglob("*.py") if p.name != "__init__.py")
MAX_MODULE_LINES = 320
MAX_FUNCTION_LINES = 60
# A decision table may stay longer, with a comment above it saying why.
LONG_ON_PURPOSE = {("training/recipes.py", "choose")}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SCRIPTS)))
def test_modules_and_functions_stay_small(path):
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name}: split it where it mixes jobs"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if (str(path.relative_to(SCRIPTS)), node.name) not in LONG_ON_PURPOSE:
                assert length <= MAX_FUNCTION_LINES, f"{path.name}:{node.name} is {length} lines"


def test_the_module_map_matches_the_tree():
    """docs/architecture.md names every module of scripts/ in its folder, and no module that is gone."""
    doc = (PROJECT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = doc.split("```")[3]  # the second code block: the tree
    named = {n for n in re.findall(r"([\w]+\.(?:py|md))", block) if not n.startswith("test_")}
    files = {p.name for p in MODULES} | {"card_template.md"}
    assert files - named == set(), "modules missing from docs/architecture.md"
    assert {n for n in named if n.endswith(".py")} - files == set(), (
        "docs/architecture.md names modules that are gone"
    )
    folders = {p.parent.name + "/" for p in MODULES if p.parent != SCRIPTS}
    assert all(folder in block for folder in folders)


LATER_STAGES = [
    "scripts.evaluate",
    "scripts.predict",
    "scripts.card",
    "scripts.push",
    "scripts.compare",
    "scripts.app",
]


def test_later_stages_import_no_training_code_and_change_nothing_on_import():
    probe = (
        "import os, sys, numpy, pandas, sklearn, matplotlib  # their own settings are theirs\n"
        "before = dict(os.environ)\n"
        f"for m in {LATER_STAGES!r}: __import__(m)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('scripts.train', 'simpletransformers')))\n"
        "changed = sorted(k for k in set(os.environ) | set(before) if os.environ.get(k) != before.get(k))\n"
        "print(loaded, changed)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[] []", out.stdout + out.stderr


def test_the_readme_is_short_and_its_links_resolve():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert readme.count("\n") <= 250
    assert "make train" in readme and "make test" in readme
    for link in re.findall(r"\]\(((?!https?:)[^)#]+)\)", readme):
        assert (PROJECT / link).exists(), link
    for page in (PROJECT / "docs").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\bissue \d+|\(issue", text), f"{page.name}: no issue numbers in user docs"
        for link in re.findall(r"\]\(((?!https?:)[^)#]+)\)", text):
            assert (page.parent / link).exists(), f"{page.name}: {link}"
