"""bench.pypi_topics: which projects the long-document set keeps, and that a rebuild reads the same
releases (no network: the registry's pages are served from a dict)."""

from __future__ import annotations

import json

import pandas as pd

from bench import pypi_topics


def page(version: str, classifiers: list[str], text: str) -> bytes:
    return json.dumps(
        {"info": {"version": version, "classifiers": classifiers, "description": text}}
    ).encode()


def test_one_top_level_topic_is_kept_once_generic_topics_are_left_out():
    assert (
        pypi_topics.topic_of(["Topic :: Internet :: WWW/HTTP", "Topic :: Internet :: Proxy Servers"])
        == "Internet"
    )
    assert (
        pypi_topics.topic_of(["Topic :: Security", "Topic :: Software Development :: Libraries"])
        == "Security"
    )
    assert pypi_topics.topic_of(["Topic :: Security", "Topic :: Internet"]) is None
    assert pypi_topics.topic_of(["Topic :: Utilities", "License :: OSI Approved"]) is None


def test_a_rebuild_keeps_the_manifest_release_and_drops_a_newer_one(tmp_path, monkeypatch):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("project,version,topic\nalpha,0.10,Security\nbeta,1.0,Internet\n")
    pages = {  # only the latest pages can be read, as here; beta has released 1.1 since the manifest
        "https://pypi.org/pypi/alpha/json": page("0.10", ["Topic :: Security"], "alpha   readme\n text"),
        "https://pypi.org/pypi/beta/json": page("1.1", ["Topic :: Internet"], "beta readme"),
    }
    monkeypatch.setattr(pypi_topics, "get", lambda url, timeout=30: pages.get(url))
    monkeypatch.setattr(pypi_topics, "MANIFEST", manifest)
    pypi_topics.build(tmp_path / "out.csv")
    rows = pd.read_csv(tmp_path / "out.csv")
    assert rows.to_dict("records") == [{"text": "alpha readme text", "labels": "Security"}]
