"""The drift bench, small: a full compare reads pages, never records, and finds exactly what changed."""

from __future__ import annotations

import pytest

from bench.drift import run

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(300)
def test_a_full_compare_reads_pages_at_the_floor_and_finds_the_changed_customers():
    """HubSpot here (Dynamics: tests/e2e/test_drift.py); the full size is ``make bench-drift``."""
    result = run(150, 7, "hubspot")
    assert result["drifted_records"] == 7, result
    assert result["compared"]["eco"] == 150, result
    assert result["economic_calls"] == result["economic_floor"] == 2, "customers and contacts: a page each"
    assert result["crm_calls"] == result["crm_floor"], result
    assert result["ratio_to_floor"] == 1.0
