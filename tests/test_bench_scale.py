"""make bench-scale on small sizes: every stage runs in its own process and the report checks the targets."""

import json

import pytest

from bench import scale
from tests.conftest import SHARED

pytestmark = (
    pytest.mark.slow
)  # subprocesses that import Simple Transformers: make test runs it, make test-fast not


@pytest.mark.skipif(not (SHARED / "sms_spam").exists(), reason="../shared/datasets is not here")
def test_bench_scale_measures_every_stage(tmp_path):
    out = tmp_path / "SCALE.md"
    work = tmp_path / "work"
    assert (
        scale.main(["--rows", "2000", "--work", str(work), "--out", str(out), "--stage-timeout", "300"]) == 0
    )
    results = {int(k): v for k, v in json.loads((work / "results.json").read_text()).items()}
    for rows in (2000,):  # one size: every stage in its own process (the ratios then compare it with itself)
        stages = results[rows]
        assert set(stages) == set(scale.STAGES) and not any(
            "failed" in v or "timed_out" in v for v in stages.values()
        )
        assert stages["predict"]["rows"] == rows
        # the compact store holds 4 bytes a real token; Simple Transformers' 24 bytes a padded position
        assert stages["tokenise"]["compact_int32_mb"] < stages["tokenise"]["padded_int64_mb"] / 2
        assert stages["train50"]["steps_50_s"] > 0
    text = out.read_text()
    assert "| 2,000 |" in text
    assert text.count("(target <=") == 5
