"""Text folding every normaliser starts from.

One fold for names, cities, streets and countries, so "Brøndum" and "Broendum" compare equal wherever
they appear."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose, or decomposes the "wrong" way for Nordic/German names: ø would
# vanish and ö would become o, so "Brøndum" and "Broendum" would differ. Both spellings fold alike.
_LETTERS = str.maketrans(
    {
        "æ": "ae",
        "ø": "oe",
        "å": "aa",
        "ö": "oe",
        "ä": "ae",
        "ü": "ue",
        "ß": "ss",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",  # dotless i
        "ħ": "h",
    }
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case ASCII with Nordic/German letters transliterated (æ→ae, ø→oe, å→aa, ß→ss, ö/ä/ü)."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_LETTERS)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _words(text: str) -> list[str]:
    return _NON_ALNUM.sub(" ", fold(text)).split()
