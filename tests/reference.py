"""Where the vendors' official schemas and recordings are: ``vendor-specs/`` in this repository.

Tests that validate the fakes against them must run, never skip: a missing reference set is an error.
``CRMSYNC_REFERENCE_DIR`` points them at another copy (e.g. a newer set while refreshing it).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def reference_dir(vendor: str) -> Path:
    base = Path(os.environ.get("CRMSYNC_REFERENCE_DIR", REPO / "vendor-specs"))
    path = base / vendor
    if not path.is_dir():
        raise FileNotFoundError(f"vendor reference set missing: {path} (set CRMSYNC_REFERENCE_DIR)")
    return path
