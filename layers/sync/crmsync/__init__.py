"""crmsync: the shared sync layer (models, policy, engine, store, connectors).

Handlers in ``functions/`` only wire AWS events to the functions in ``crmsync.service``.
Nothing in this package reads ``os.environ`` except ``crmsync.settings``.
"""

__version__ = "0.1.0"
