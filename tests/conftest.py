"""Shared test setup: credentials and Powertools switches set before any handler is imported."""

from __future__ import annotations

import os

# moto needs fake credentials and a region before any boto3 client is built; Powertools must not
# try to reach X-Ray or print EMF blobs into the test output.
for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "crmsync",
    "POWERTOOLS_METRICS_NAMESPACE": "crmsync",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}.items():
    os.environ.setdefault(key, value)
os.environ.pop("AWS_ENDPOINT_URL", None)
