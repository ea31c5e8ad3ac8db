"""Local stack: fakes and helpers for running crmsync without AWS or vendors."""
