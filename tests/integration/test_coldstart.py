"""Cold-start measurement (bench/coldstart.py): each handler imported in a fresh interpreter, as Lambda
would, against boto3 alone. Integration tier: every test here starts Python subprocesses."""

from __future__ import annotations

import math
from pathlib import Path

from bench import coldstart

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_only_the_deployed_closure_is_importable_in_the_children() -> None:
    deployed = coldstart.deployed_distributions()
    assert {"boto3", "botocore", "pydantic", "httpx", "aws-lambda-powertools", "aws-xray-sdk"} <= deployed
    blocked = coldstart.undeployed_modules()
    assert {"rich", "click", "pygments", "moto", "pytest"} <= blocked  # dev-only, not in the layer
    assert not {"boto3", "botocore", "pydantic", "httpx", "crmsync"} & blocked


def test_cold_import_of_every_handler_against_boto3() -> None:
    handlers = sorted(p.parent.name for p in (REPO_ROOT / "functions").glob("*/app.py"))
    assert handlers, "no handler directories found"
    result = coldstart.measure(repeats=1)

    assert result.boto3_seconds > 0
    assert sorted(result.handler_seconds) == handlers
    assert sorted(result.ratios) == handlers
    assert all(r > 0 for r in result.ratios.values())
    assert result.worst in handlers
    assert math.isclose(result.worst_ratio, max(result.ratios.values()))
    assert all(kib > 0 for kib in result.peak_rss_kib.values())
    line = result.line()
    assert line.startswith(f"import_ratio_vs_boto3={result.worst_ratio:.2f} worst={result.worst} ")
    assert all(f" {name}_ms=" in line for name in handlers)


def test_import_profile_is_the_handlers_subtree() -> None:
    profile = coldstart.import_profile("scheduled_pull")
    assert profile[-1].module == "app" and profile[-1].depth == 0
    assert all(c.depth > 0 for c in profile[:-1])
    modules = {c.module for c in profile}
    assert {"boto3", "crmsync.runtime"} <= modules
    assert "encodings" not in modules  # interpreter start-up is not the handler's cost
    # httpx tries its CLI (rich, click): the attempt is logged, but nothing of them loads, as on Lambda
    assert not any(m.startswith(("rich.", "click.", "pygments.")) for m in modules)
    top = coldstart.top_imports(profile, 3)
    assert len(top) == 3 and top[0].cumulative_us >= top[1].cumulative_us >= top[2].cumulative_us
