"""Where the vendors' official schemas and recordings are: ``../shared/reference`` beside the clone.

Tests that validate the fakes against them must run, never skip: a missing reference set is an error.
``CRMSYNC_REFERENCE_DIR`` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def reference_dir(vendor: str) -> Path:
    base = Path(os.environ.get("CRMSYNC_REFERENCE_DIR", REPO.parent / "shared" / "reference"))
    path = base / vendor
    if not path.is_dir():
        raise FileNotFoundError(f"vendor reference set missing: {path} (set CRMSYNC_REFERENCE_DIR)")
    return path
