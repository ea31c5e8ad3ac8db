"""A bulk job's progress view: rate so far and the time left at that pace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crmsync.api import job_progress
from crmsync.items import Job

START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def job(done: int, failed: int, total: int, updated_after_s: float) -> Job:
    return Job(
        job_id="j1",
        done=done,
        failed=failed,
        total=total,
        created_at=START.isoformat(),
        updated_at=(START + timedelta(seconds=updated_after_s)).isoformat(),
    )


def test_a_running_job_reports_its_rate_and_eta_from_the_pace_so_far():
    view = job_progress(
        job(done=290, failed=10, total=1000, updated_after_s=50), START + timedelta(seconds=60)
    )
    assert view == {"finished": False, "rate_per_second": 5.0, "eta_seconds": 140, "errors": 10}


def test_a_job_without_a_finished_page_has_no_rate_or_eta_yet():
    view = job_progress(job(done=0, failed=0, total=10, updated_after_s=0), START + timedelta(seconds=5))
    assert (view["finished"], view["rate_per_second"], view["eta_seconds"]) == (False, None, None)


def test_a_finished_job_keeps_its_final_rate():
    view = job_progress(job(done=100, failed=0, total=100, updated_after_s=20), START + timedelta(hours=3))
    assert view == {"finished": True, "rate_per_second": 5.0, "eta_seconds": 0, "errors": 0}
