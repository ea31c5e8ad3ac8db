"""The admin console's static files, as the ``console`` function serves them from the same HTTP API.

Why served by the API and not S3 + CloudFront: one origin for the pages and ``/tenants/...``, so the
console needs no CORS, no second domain and no extra stack resources; the files are a few dozen KB and
change only with a deploy. The console is Preact + htm as native ES modules (no build step); their
vendored copies are pinned by ``console/package-lock.json`` (``scripts/console-vendor.sh``).

Every answer carries a strict Content-Security-Policy: scripts only from this origin plus the one
inline import map, identified by its SHA-256 (computed here from ``index.html``, so editing the map
cannot silently break or widen the policy); no inline styles or handlers, no framing, no forms posting
elsewhere. Files are revalidated on every load (``no-cache`` + an ETag of their content), so a deploy
is seen at once and nothing the console shows is kept by the browser: data comes from the API, whose
answers are ``no-store``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "/console"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
"""What the console may serve; any other file in the folder (licenses, checksums) is a 404."""
SAFE_PATH = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_./-]{0,200}$")
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)


@dataclass(frozen=True)
class Served:
    """One answer: status, body (text), content type and headers."""

    status: int
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def content_security_policy(index_html: str) -> str:
    """The policy of every console answer: this origin only, plus the import map's hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()}'"
        for m in IMPORT_MAP.findall(index_html)
    )
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {hashes}".strip(),
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ConsoleAssets:
    """The files under ``root`` (read once per container), answered by request path."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._files: dict[str, tuple[str, str]] = {}  # relative path -> (text, etag)
        self._csp: str | None = None

    def _load(self, relative: str) -> tuple[str, str] | None:
        if relative not in self._files:
            path = (self.root / relative).resolve()
            if self.root not in path.parents or not path.is_file() or path.suffix not in CONTENT_TYPES:
                return None
            text = path.read_text(encoding="utf-8")
            self._files[relative] = (text, '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"')
        return self._files[relative]

    def headers(self) -> dict[str, str]:
        if self._csp is None:
            index = self._load("index.html")
            self._csp = content_security_policy(index[0] if index else "")
        return {
            "Content-Security-Policy": self._csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Strict-Transport-Security": "max-age=31536000",
            "Cross-Origin-Opener-Policy": "same-origin",
        }

    def serve(self, path: str, if_none_match: str | None = None) -> Served:
        """``/console`` redirects to ``/console/index.html`` (the console's address: relative module paths
        need the folder, and an HTTP API's greedy ``{proxy+}`` is not sure to match an empty rest, so the
        address names the file); ``/console/`` is ``index.html`` too, anything else a file of the folder
        with an allowed type; 404 otherwise."""
        if path == PREFIX:
            return Served(308, headers={**self.headers(), "Location": f"{PREFIX}/index.html"})
        relative = path.removeprefix(f"{PREFIX}/") if path.startswith(f"{PREFIX}/") else None
        if relative == "":
            relative = "index.html"
        if relative is None or not SAFE_PATH.match(relative) or ".." in relative.split("/"):
            return Served(404, "Not Found", headers=self.headers())
        found = self._load(relative)
        if found is None:
            return Served(404, "Not Found", headers=self.headers())
        text, etag = found
        headers = {**self.headers(), "ETag": etag, "Cache-Control": "no-cache"}
        if if_none_match is not None and etag in {tag.strip() for tag in if_none_match.split(",")}:
            return Served(304, headers=headers)
        return Served(200, text, CONTENT_TYPES[Path(relative).suffix], headers)
