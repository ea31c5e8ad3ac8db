"""The API's routes by domain: one Powertools ``Router`` per module, included by ``functions/api/app.py``.

| module       | routes under ``/tenants/{tenant_id}``                                        |
|--------------|------------------------------------------------------------------------------|
| records      | ``records/{id}``, ``.../sync``, ``.../timeline``                             |
| links        | ``link/customers`` (the link screen), ``links``, ``records/{id}/create``      |
| conflicts    | ``conflicts``, ``records/{id}/resolve``, ``records/{id}/compare``, restore   |
| parked       | ``parked`` (+ replay) and ``deletes`` (+ approve, reject)                    |
| transfers    | ``transfers`` (+ a job's progress) and ``mode``                              |
| tenant       | ``config`` (read, replace) and ``health``                                    |
| account_managers | ``account-managers`` (the automatic owner map) and ``.../refresh``       |
| drift        | ``drift`` (the last full compare; run one), ``drift/{id}/fix``               |

Every route reads the tenant's context through ``common.tenant_context`` (the token was checked by
``api.admit`` before routing), raises ``crmsync.api_errors`` for what went wrong and declares a
response model, so ``/openapi.json`` documents what it returns.
"""

from crmsync.routes import account_managers, conflicts, drift, links, parked, records, tenant, transfers

ROUTERS = (
    *(records.router, links.router, conflicts.router, parked.router, transfers.router, tenant.router),
    account_managers.router,
    drift.router,
)
"""In the order the resolver includes them (the order of the OpenAPI document's paths)."""
