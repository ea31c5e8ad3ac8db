"""The admin console's files: what is served with which headers, the vendored toolkit's provenance, and
that the console calls nothing but the public API (issue 18 item 1)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import inspect
import json
import re
from pathlib import Path

import pytest

from crmsync.console_assets import ConsoleAssets, content_security_policy
from local.lambda_runtime import http_event, invoke, load_handler

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "functions" / "console" / "static"
ASSETS = ConsoleAssets(STATIC)


def test_the_index_is_served_with_a_policy_that_admits_only_its_import_map():
    served = ASSETS.serve("/console/")
    assert served.status == 200 and served.content_type.startswith("text/html")
    assert '<script type="module" src="app.js">' in served.body
    (import_map,) = re.findall(r'<script type="importmap">(.*?)</script>', served.body, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    csp = served.headers["Content-Security-Policy"]
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["script-src"] == f"'self' 'sha256-{digest}'"
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp, "no inline script or eval is needed"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "no-cache" and served.headers["ETag"]


def test_a_changed_import_map_changes_the_policy():
    one = content_security_policy('<script type="importmap">{"imports": {}}</script>')
    other = content_security_policy('<script type="importmap">{"imports": {"x": "./x.js"}}</script>')
    assert one != other and "sha256-" in one


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console", 308),
        ("/console/index.html", 200),
        ("/console/app.js", 200),
        ("/console/screens/health.js", 200),
        ("/console/vendor/preact.mjs", 200),
        ("/console/style.css", 200),
        ("/console/nothing.js", 404),
        ("/console/../app.py", 404),
        ("/console/screens/../../app.py", 404),
        ("/console/vendor/SHA256SUMS", 404),  # not a type the console serves
        ("/console/vendor/LICENSE-preact", 404),
        ("/console//etc/passwd", 404),
        ("/consolex/app.js", 404),
    ],
)
def test_only_the_console_files_are_served(path: str, status: int):
    served = ASSETS.serve(path)
    assert served.status == status, path
    if status == 308:
        assert served.headers["Location"] == "/console/index.html"


def test_an_unchanged_file_is_not_sent_again():
    first = ASSETS.serve("/console/app.js")
    again = ASSETS.serve("/console/app.js", if_none_match=first.headers["ETag"])
    assert again.status == 304 and again.body == ""
    assert ASSETS.serve("/console/app.js", if_none_match='"other"').status == 200


def test_the_handler_serves_gzip_with_the_headers_through_api_gateway_events():
    event = http_event("GET", "/console/ui.js", headers={"Accept-Encoding": "gzip, deflate"})
    result = invoke("console", event)
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is True
    headers = {k.lower(): v for k, v in result["headers"].items()}
    assert headers["content-encoding"] == "gzip" and headers["content-type"].startswith("text/javascript")
    assert gzip.decompress(base64.b64decode(result["body"])).decode() == (STATIC / "ui.js").read_text()
    assert "script-src 'self'" in headers["content-security-policy"]
    missing = invoke("console", http_event("GET", "/console/missing.js"))
    assert missing["statusCode"] == 404


def test_the_vendored_toolkit_is_what_the_lock_pins():
    """preact and htm come from the npm registry (scripts/console-vendor.sh): same bytes, same versions."""
    sums = (STATIC / "vendor" / "SHA256SUMS").read_text().splitlines()
    header, *lines = sums
    lock = json.loads((ROOT / "console" / "package-lock.json").read_text())["packages"]
    for package in ("preact", "htm"):
        assert f"{package} {lock[f'node_modules/{package}']['version']}" in header
    assert len(lines) == 3
    for line in lines:
        digest, name = line.split()
        assert hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest() == digest, name
    import_map = re.search(
        r'<script type="importmap">(.*?)</script>', (STATIC / "index.html").read_text(), re.DOTALL
    )
    assert import_map is not None
    targets = json.loads(import_map.group(1))["imports"].values()
    assert {Path(t).name for t in targets} == {line.split()[1] for line in lines}


def _openapi_operations() -> set[tuple[str, str]]:
    """(METHOD, path) of the tenant API and lead conversion, as their OpenAPI documents describe them."""
    operations = set()
    for function in ("api", "lead_conversion"):
        app = inspect.unwrap(load_handler(function)).__globals__["app"]
        document = json.loads(app.get_openapi_json_schema(title="crmsync", version="1"))
        for path, methods in document["paths"].items():
            operations |= {(method.upper(), path) for method in methods}
    return operations


def test_every_call_of_the_console_is_an_operation_of_the_public_api():
    source = (STATIC / "endpoints.js").read_text()
    endpoints = dict(re.findall(r"^\s+(\w+): '([A-Z]+ /[^']*)',$", source, re.MULTILINE))
    assert len(endpoints) == len(re.findall(r"^\s+\w+:", source, re.MULTILINE)) > 20, "every entry parsed"
    operations = _openapi_operations()
    for name, call in endpoints.items():
        method, path = call.split(" ", 1)
        assert (method, f"/tenants/{{tenant_id}}{path}") in operations, (
            f"{name}: {call} is not in the OpenAPI"
        )
    # Screens call the API by those names only, and only api.js talks to the network.
    scripts = {
        p.relative_to(STATIC).as_posix(): p.read_text()
        for p in STATIC.rglob("*.js")
        if "vendor" not in p.parts
    }
    used = {name for text in scripts.values() for name in re.findall(r"request\(\s*'(\w+)'", text)}
    assert used and used <= set(endpoints), used - set(endpoints)
    assert [name for name, text in scripts.items() if "fetch(" in text] == ["api.js"]
    assert not [
        name for name, text in scripts.items() if re.search(r"localStorage|indexedDB|document\.cookie", text)
    ]


def test_the_token_lives_in_the_tab_session_only():
    api = (STATIC / "api.js").read_text()
    assert "sessionStorage" in api and "cache: 'no-store'" in api and "credentials: 'omit'" in api


def _js_array(source: str, name: str) -> list[str]:
    match = re.search(rf"const {name} = \[(.*?)\];", source, re.DOTALL)
    assert match is not None, name
    return re.findall(r"\[?'([a-z_]+)'", match.group(1))


def test_the_settings_screen_offers_exactly_the_values_the_api_takes():
    """The screen names fields, directions, rules, modes and mappable fields by hand (with labels for
    people); each list must stay what the layer accepts."""
    from crmsync.models import FIELDS_BY_TYPE, ObjectType, SyncMode
    from crmsync.policy import ConflictRule, Direction
    from crmsync.value_maps import MAPPABLE_FIELDS

    source = (STATIC / "screens" / "settings.js").read_text()
    directions = re.search(r"const DIRECTIONS = \[(.*?)\];", source, re.DOTALL)
    rules = re.search(r"const RULES = \[(.*?)\];", source, re.DOTALL)
    modes = re.search(r"const MODES = \[(.*?)\];", source, re.DOTALL)
    assert directions and rules and modes
    assert set(re.findall(r"\['(\w+)'", directions.group(1))) == {d.value for d in Direction}
    assert set(re.findall(r"\['(\w+)'", rules.group(1))) == {r.value for r in ConflictRule}
    assert set(re.findall(r"\['(\w+)'", modes.group(1))) == {m.value for m in SyncMode}
    assert set(_js_array(source, "MAPPABLE")) == set(MAPPABLE_FIELDS)
    fields = re.search(r"const FIELDS = \{(.*?)\};", source, re.DOTALL)
    assert fields is not None
    for object_type in (ObjectType.CUSTOMER, ObjectType.CONTACT):
        listed = re.search(rf"{object_type.value}: \[(.*?)\]", fields.group(1), re.DOTALL)
        assert listed is not None, object_type
        assert re.findall(r"'(\w+)'", listed.group(1)) == list(FIELDS_BY_TYPE[object_type]), object_type
