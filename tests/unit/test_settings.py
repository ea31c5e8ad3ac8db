"""Deployment settings (crmsync/settings.py): the one env reader fails fast on what a function cannot run without."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crmsync.settings import Settings


def test_settings_fail_fast_without_a_table_name() -> None:
    """A function deployed without TABLE_NAME fails with a clear error, not with DynamoDB calls on ""."""
    with pytest.raises(ValidationError, match="table_name"):
        Settings.from_env({})
    assert Settings.from_env({"TABLE_NAME": "crmsync-SyncTable"}).table_name == "crmsync-SyncTable"
