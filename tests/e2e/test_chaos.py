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
    assert result.details["invoices"] > 0 and result.details["notes"] > 0, "facts and journal were on"
    assert result.details["facts_diverged"] == result.details["note_duplicates"] == 0, result.details
    assert (result.lost, result.duplicates, result.silent_failures) == (0, 0, 0), result.line()
    assert result.converged, result.details


@pytest.mark.timeout(900)  # ~60 s alone on 2 cores
def test_scaled_down_chaos_run_on_dynamics_converges_under_dataverse_faults_and_throttling():
    result = run(
        ChaosConfig(
            customers=40,
            contacts_per_customer=2,
            edits=40,
            pull_every_rounds=20,
            seed=3,
            crm="dynamics",
            dataverse_requests_per_window=100,  # the contacts' batch does not fit beside the accounts'
        )
    )
    print(result.line(), result.details["signals"], f"{result.seconds:.0f} s")
    assert result.details["crashes"] == 1, "a worker was killed mid-batch"
    dataverse, injected = result.details["dynamics"], result.details["dataverse_chaos"]
    assert dataverse["faults"] > 0 and dataverse["rate_limited"] > 0, f"5xx and 429s happened: {dataverse}"
    assert injected["after_commit_armed"] > 0, injected
    assert injected["webhooks_dropped"] > 0 and injected["webhooks_duplicated"] > 0, injected
    assert result.details["economic"]["faults"] > 0
    assert result.details["invoices"] > 0 and result.details["notes"] > 0, "facts and journal were on"
    assert (result.lost, result.duplicates, result.silent_failures) == (0, 0, 0), result.line()
    assert result.converged, result.details
