"""Size and nesting limits on request bodies, checked before anything parses them.

``json.loads`` recurses once per nesting level: a body nested ~1,000 levels deep raises
``RecursionError`` (a 500), and Powertools parses API bodies itself before any route code runs. So
bodies are measured and scanned first: too many bytes is a 413, too deep a 400. The scan is a loop
over the bracket tokens outside JSON strings (no recursion, linear in the body, strings matched by
the regex engine), so its own cost is bounded by the byte limit.
"""

from __future__ import annotations

import base64
import binascii
import re

MAX_WEBHOOK_BODY_BYTES = 1024 * 1024
"""A webhook delivery's largest accepted body: 1 MiB.

HubSpot sends under 100 events per request (vendor-specs/crm-apis.md, A10); an event is ~300 bytes
of ids and times plus, for ``propertyChange``, the changed property's value. 1 MiB leaves ~10 KiB per
event for that value while staying far below Lambda's 6 MB request payload. A signal carries no
values, so a delivery refused here is not lost: HubSpot retries it, and the scheduled pull reads the
change from its checkpoint anyway. e-conomic's webhooks carry their data in the query string; their
bodies are never read.
"""

MAX_API_BODY_BYTES = 128 * 1024
"""An API request's largest accepted body: 128 KiB.

The largest body the API takes is a tenant config (``PUT /config``): the field policy of every field
(~4 KiB) and value maps (a few hundred picklist values or owners at ~50 bytes each). The config is
stored as one DynamoDB item (at most 400 KB), and a resolve's values end up in a record item and its
conflict and timeline items, so a body must stay well under that. Field-level limits (a name, a
phone) are the models' business; this one keeps oversize bodies from reaching them at all.
"""

MAX_JSON_DEPTH = 32
"""The deepest JSON nesting accepted in any body (arrays and objects count one level each).

The deepest legitimate bodies are a tenant config (config > field_policy > object > field > rule:
5 levels) and a HubSpot delivery (array > event > mergedObjectIds: 3). 32 leaves ample room and
stays far from Python's recursion limit (~1,000) in ``json`` and pydantic.
"""

MAX_JSON_NUMBER_DIGITS = 100
"""The longest run of digits accepted in a JSON number. Python refuses to read an integer of over 4,300
digits (``ValueError`` inside ``json.loads``: a 500); no field of crmsync's needs more than 20."""

# A JSON string (escapes included), one bracket, or an overlong run of digits; ``finditer`` skips
# everything else.
_LEXEMES = re.compile(
    rf'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{{}}]|[0-9]{{{MAX_JSON_NUMBER_DIGITS + 1},}}', re.DOTALL
)


def body_bytes(body: str | bytes | None, is_base64: bool = False) -> int:
    """The size in bytes of a body as the sender sent it (decoded from API Gateway's base64)."""
    if not body:
        return 0
    if isinstance(body, bytes):
        return len(body)
    if is_base64:
        try:
            return len(base64.b64decode(body, validate=True))
        except binascii.Error:
            return len(body)  # not base64 after all: the readability check refuses it
    return len(body.encode("utf-8", "surrogatepass"))


def too_large(body: str | bytes | None, limit: int, is_base64: bool = False) -> bool:
    """Is the body over ``limit`` bytes? A huge text is refused by its length alone: UTF-8 has at
    least one byte per character, base64 encodes at least 3 bytes per 4 characters."""
    if not body:
        return False
    if isinstance(body, str):
        least = len(body) * 3 // 4 - 2 if is_base64 else len(body)
        if least > limit:
            return True
    return body_bytes(body, is_base64) > limit


def json_refusal(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why this JSON text must not be parsed (too deep, or a number too long), else None.

    Counted without recursion and without parsing; brackets and digits inside strings do not count.
    On invalid JSON the count may be too high, never too low where it matters: up to the first
    place the scan and a parser disagree, the parser has already failed, so it never reaches what
    lies beyond.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    depth = 0
    for match in _LEXEMES.finditer(text):
        lexeme = match.group()
        if lexeme in ("[", "{"):
            depth += 1
            if depth > max_depth:
                return f"nests deeper than {max_depth} levels"
        elif lexeme in ("]", "}"):
            depth = max(depth - 1, 0)
        elif lexeme[0] != '"':
            return f"has a number of more than {MAX_JSON_NUMBER_DIGITS} digits"
    return None


def json_depth_exceeds(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Does the JSON text nest deeper than ``limit``? (See ``json_refusal``.)"""
    reason = json_refusal(text, limit)
    return reason is not None and reason.startswith("nests")
