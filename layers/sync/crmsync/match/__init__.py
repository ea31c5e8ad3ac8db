"""The parts of ``crmsync.matching`` (identity and duplicate search), one concept per module.

Import from ``crmsync.matching``: it re-exports every public name, and its entry points tie these
parts together. The parts are pure (no I/O), so each can be read and tested on its own."""
