"""A long-document data set from a package registry: the README of a PyPI project, labelled with the one
top-level `Topic ::` classifier its authors gave it (multi-class). READMEs run to hundreds or thousands of
words, so most exceed 256 tokens: the case `long_texts` is for.

    python -m bench.pypi_topics collect [--sample 60000] [--seed 42]   # draw projects, write the manifest
    python -m bench.pypi_topics build                                  # fetch the manifest's releases

`collect` draws projects at random from PyPI's simple index, reads each one's JSON metadata and keeps
those whose `Topic ::` classifiers (leaving out the generic Software Development, Utilities and Other)
name exactly one top-level topic and whose README has at least MIN_CHARS characters; identical READMEs
are kept once; topics with fewer than MIN_PER_TOPIC projects are dropped, and at most MAX_PER_TOPIC of a
topic are kept. It writes the manifest
bench/data/pypi_topics.csv (project, version, topic): the release, not the project, so `build` refetches
exactly the same READMEs later (`/pypi/<project>/<version>/json`; where only the registry's latest
pages can be reached, as here, a project with a newer release is left out and counted) into
data/pypi_topics.csv (text, labels) for `make train DATA=data/pypi_topics.csv` and bench.long_texts.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
MANIFEST = PROJECT / "bench" / "data" / "pypi_topics.csv"
DATA = PROJECT / "data" / "pypi_topics.csv"
INDEX = "https://pypi.org/simple/"
GENERIC = {"Software Development", "Utilities", "Other/Nonlisted Topic"}
MIN_CHARS = 1500
MIN_PER_TOPIC = 150
MAX_PER_TOPIC = 250  # Scientific/Engineering alone is a third of the projects: capped, drawn at random
MAX_CHARS = 20000  # a handful of READMEs embed whole manuals; the windows cap reads at most this much


def get(url: str, timeout: float = 30) -> bytes | None:
    request = urllib.request.Request(url, headers={"User-Agent": "quickfit-bench (long-document data set)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except Exception:  # a project deleted or a release yanked since: skipped, counted by the caller
        return None


def project_names() -> list[str]:
    page = get(INDEX, timeout=300)
    if page is None:
        sys.exit("could not read PyPI's simple index: check the network")
    return re.findall(r'<a href="([^"/]+)/">', page.decode("utf-8"))


def topic_of(classifiers: list[str]) -> str | None:
    tops = {c.split(" :: ")[1] for c in classifiers if c.startswith("Topic :: ")} - GENERIC
    return tops.pop() if len(tops) == 1 else None


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:MAX_CHARS]


def metadata(project: str, version: str | None = None) -> dict | None:
    """The project's README and topic, at `version` when given (None if that release cannot be had)."""
    urls = [f"https://pypi.org/pypi/{project}/json"]
    if version:  # the release's own page; its latest page serves as well while it is still the latest
        urls.insert(0, f"https://pypi.org/pypi/{project}/{version}/json")
    for url in urls:
        raw = get(url)
        try:
            info = json.loads(raw)["info"] if raw else None
        except (ValueError, KeyError):  # an error page instead of metadata: skipped like a missing project
            info = None
        if info and (version is None or info["version"] == version):
            text = clean(info.get("description") or "")
            topic = topic_of(info.get("classifiers") or [])
            return {"project": project, "version": info["version"], "topic": topic, "text": text}
    return None


def collect(sample: int, seed: int) -> None:
    import pandas as pd

    names = project_names()
    chosen = random.Random(seed).sample(names, min(sample, len(names)))
    with ThreadPoolExecutor(32) as pool:
        found = [m for m in pool.map(metadata, chosen) if m and m["topic"] and len(m["text"]) >= MIN_CHARS]
    frame = pd.DataFrame(found).drop_duplicates("text")
    counts = frame["topic"].value_counts()
    frame = frame[frame["topic"].isin(counts[counts >= MIN_PER_TOPIC].index)]
    frame = frame.sample(frac=1, random_state=seed).groupby("topic").head(MAX_PER_TOPIC)
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    frame[["project", "version", "topic"]].sort_values("project").to_csv(MANIFEST, index=False)
    topics = frame["topic"].value_counts().to_string()
    print(f"{len(chosen)} projects read, {len(frame)} kept; topics:\n{topics}")
    write_data(frame, DATA)


def build(out: Path) -> None:
    import pandas as pd

    manifest = pd.read_csv(MANIFEST, dtype=str, keep_default_na=False)  # "0.10" stays a version
    with ThreadPoolExecutor(32) as pool:
        found = list(pool.map(lambda r: metadata(r.project, r.version), manifest.itertuples()))
    frame = pd.DataFrame([dict(m, topic=r.topic) for m, r in zip(found, manifest.itertuples()) if m])
    missing = "the rest removed, or released anew where only the latest pages can be read"
    print(f"{len(frame)} of {len(manifest)} releases fetched ({missing})")
    write_data(frame, out)


def write_data(frame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = frame.sort_values("project").rename(columns={"topic": "labels"})[["text", "labels"]]
    rows.sample(frac=1, random_state=0).to_csv(path, index=False)
    print(f"wrote {path} ({len(rows)} rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("collect", "build"))
    parser.add_argument("--sample", type=int, default=60000, help="projects drawn from the index")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=DATA, help="build: where the CSV goes")
    args = parser.parse_args()
    collect(args.sample, args.seed) if args.step == "collect" else build(args.out)


if __name__ == "__main__":
    main()
