"""Bulk jobs (a transfer of all records, in pages of 100) and their progress.

| item      | PK        | SK                        | attributes                                         |
|-----------|-----------|---------------------------|----------------------------------------------------|
| job       | TENANT#t  | JOB#<job id>              | ``total``, ``done``, ``failed``, ``data`` (JSON),     |
|           |           |                           | ``created_at``, ``updated_at``                      |
| page mark | TENANT#t  | JOB#<job id>#PAGE#<page>  | ``done``                                           |

A finished page adds to the job's atomic counters in one transaction with its page marker (created
only if absent), so a page applied twice is counted once and parallel workers never lose progress.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from crmsync.items import Job
from crmsync.models import utcnow
from crmsync.store.table import StoreError, Table, _n, _s, tenant_pk


class JobsRepo(Table):
    """Create a job, count its pages, read its progress."""

    def put_job(
        self, tenant_id: str, job_id: str, total: int, *, what: str, plan: dict[str, Any] | None = None
    ) -> None:
        """Create a job (once: an existing id is a ``VersionConflict``) with what it does and its plan."""
        self._call(
            "put_item",
            Item={
                "PK": _s(tenant_pk(tenant_id)),
                "SK": _s(f"JOB#{job_id}"),
                "total": _n(total),
                "done": _n(0),
                "failed": _n(0),
                "data": _s(json.dumps({"what": what, "plan": plan})),
                "created_at": _s(utcnow().isoformat()),
            },
            ConditionExpression="attribute_not_exists(PK)",
        )

    def add_job_progress(self, tenant_id: str, job_id: str, page: int, done: int, failed: int) -> bool:
        """Count a finished page on its job, once: a page marker and the atomic counters in one
        transaction, so a page applied twice (redelivered, or crashed before its delete) is not counted
        twice, and pages finishing on parallel workers never lose progress. False: counted before."""
        pk = _s(tenant_pk(tenant_id))
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {"PK": pk, "SK": _s(f"JOB#{job_id}#PAGE#{page:06d}"), "done": _n(done)},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"PK": pk, "SK": _s(f"JOB#{job_id}")},
                            "UpdateExpression": "ADD done :d, failed :f SET updated_at = :t",
                            "ExpressionAttributeValues": {
                                ":d": _n(done),
                                ":f": _n(failed),
                                ":t": _s(utcnow().isoformat()),
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False  # this page was counted before
            # TransactionConflict (another page's update at the same moment), throttling: retry.
            raise StoreError(f"add_job_progress: {exc.response.get('Error', {}).get('Code')}") from exc
        return True

    def get_job(self, tenant_id: str, job_id: str) -> Job | None:
        """The job's counters and times, with what it does and its plan."""
        item = self._get(tenant_pk(tenant_id), f"JOB#{job_id}")
        if item is None:
            return None
        return Job.model_validate(
            {
                "job_id": job_id,
                "total": int(item["total"]["N"]),
                "done": int(item["done"]["N"]),
                "failed": int(item["failed"]["N"]),
                "created_at": item["created_at"]["S"],
                "updated_at": item.get("updated_at", item["created_at"])["S"],
                **json.loads(item["data"]["S"]),
            }
        )
