"""Vendor connectors: each speaks one vendor's real API over httpx and talks canonical fields."""
