"""Dollar cost of a sync run from counted operations, at public AWS list prices (eu-west-1, 2025).

The local stack counts every request it serves, so a bench run can state ``usd_per_million_edits``
without an AWS account or a bill. Only the marginal, per-request prices are modelled: free tiers,
storage, logs, X-Ray traces and the monthly per-secret fee do not grow with edits and are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Public list prices, eu-west-1 (Europe/Ireland), as of 2025. Update here when the pages change.
# https://aws.amazon.com/lambda/pricing/ (eu-west-1, duration and requests)
LAMBDA_USD_PER_GB_SECOND_X86 = 0.0000166667
LAMBDA_USD_PER_GB_SECOND_ARM64 = 0.0000133334  # template.yaml deploys arm64; pass ``arm64=True`` for it
LAMBDA_USD_PER_MILLION_REQUESTS = 0.20
# https://aws.amazon.com/dynamodb/pricing/on-demand/ (eu-west-1, Standard table class). Until 2024-11-01
# eu-west-1 was $1.4135 per million WRU / $0.283 per million RRU (us-east-1 $1.25 / $0.25); AWS then
# halved on-demand throughput in every region (us-east-1 now $0.625 / $0.125), so 2025 is half of those
# (derived, not read off the page: confirm the exact eu-west-1 figures there).
DDB_USD_PER_MILLION_WRITE_UNITS = 1.4135 / 2
DDB_USD_PER_MILLION_READ_UNITS = 0.283 / 2
# https://aws.amazon.com/sqs/pricing/ (standard queue; every 64 KB chunk of a request is one request)
SQS_USD_PER_MILLION_REQUESTS = 0.40
# https://aws.amazon.com/api-gateway/pricing/ (HTTP API, first 300M/month; us-east-1 is $1.00)
API_USD_PER_MILLION_REQUESTS = 1.11
# https://aws.amazon.com/secrets-manager/pricing/ ($0.05 per 10,000 API calls)
SECRETS_USD_PER_CALL = 0.05 / 10_000

_MILLION = 1_000_000


@dataclass(frozen=True)
class Usage:
    """Counted operations of one run; the unit of each field is what AWS bills."""

    lambda_invocations: int = 0
    lambda_gb_seconds: float = 0.0  # see ``lambda_gb_seconds()``: billed ms x configured memory
    ddb_read_units: float = 0.0  # RRU: 1 per 4 KB strongly consistent, 0.5 eventually consistent
    ddb_write_units: float = 0.0  # WRU: 1 per 1 KB written, 2 for transactional writes
    sqs_requests: int = 0  # sends, receives (incl. the Lambda poller's) and deletes, per 64 KB chunk
    api_requests: int = 0  # HTTP API requests (webhooks and API calls)
    secrets_calls: int = 0  # GetSecretValue calls that missed the in-container cache

    def usd(self, *, arm64: bool = False) -> float:
        """Total list-price cost in USD (x86 Lambda duration unless ``arm64``)."""
        gb_second = LAMBDA_USD_PER_GB_SECOND_ARM64 if arm64 else LAMBDA_USD_PER_GB_SECOND_X86
        return (
            self.lambda_gb_seconds * gb_second
            + self.lambda_invocations * LAMBDA_USD_PER_MILLION_REQUESTS / _MILLION
            + self.ddb_read_units * DDB_USD_PER_MILLION_READ_UNITS / _MILLION
            + self.ddb_write_units * DDB_USD_PER_MILLION_WRITE_UNITS / _MILLION
            + self.sqs_requests * SQS_USD_PER_MILLION_REQUESTS / _MILLION
            + self.api_requests * API_USD_PER_MILLION_REQUESTS / _MILLION
            + self.secrets_calls * SECRETS_USD_PER_CALL
        )


def usd_per_million(usage: Usage, edits: int, *, arm64: bool = False) -> float:
    """Scale a run's cost to one million edits (the bench's ``usd_per_million_edits``)."""
    if edits <= 0:
        raise ValueError("edits must be positive")
    return usage.usd(arm64=arm64) * _MILLION / edits


def lambda_gb_seconds(durations_s: list[float], memory_mb: int) -> float:
    """GB-seconds as Lambda bills them: each invocation rounded up to whole ms (at least 1), times GB.

    Rounding per invocation (not on the sum) matters for many short invocations. The tiny epsilon
    keeps float noise (0.0030000000000000001 s) from being billed as 4 ms.
    """
    billed_ms = sum(max(1, math.ceil(d * 1000 - 1e-9)) for d in durations_s)
    return billed_ms / 1000 * memory_mb / 1024
