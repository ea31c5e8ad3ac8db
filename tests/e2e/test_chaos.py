"""The chaos suite, scaled down: a backfill plus interleaved edits under every injected fault converges."""

from __future__ import annotations

import pytest

from local.chaos import ChaosConfig, run

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)  # ~80 s alone on 2 cores, ~85 s beside another xdist worker
def test_scaled_down_chaos_run_converges_with_nothing_lost_duplicated_or_silent():
    result = run(ChaosConfig(customers=70, contacts_per_customer=2, edits=70, pull_every_rounds=20, seed=3))
    print(result.line(), result.details["signals"], f"{result.seconds:.0f} s")
    assert result.details["crashes"] == 1, "a worker was killed mid-batch"
    faults = result.details["hubspot"]["faults"] + result.details["economic"]["faults"]
    webhooks = result.details["hubspot"]["webhooks"]
    assert faults > 0 and webhooks["dropped"] > 0 and webhooks["duplicated"] > 0, "the faults really happened"
    assert (result.lost, result.duplicates, result.silent_failures) == (0, 0, 0), result.line()
    assert result.converged, result.details
