"""Countries: free text ("Danmark", "DNK", "Deutschland") to ISO-3166 alpha-2, and a domain's country.

Phones, VAT ids and postal codes can only be read in a known country, and people write the country
in any language."""

from __future__ import annotations

import re
from functools import lru_cache

from crmsync.match.text import _words

_COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "AT": ("Austria", "Østrig", "Österreich", "Oesterreich", "Autriche", "AUT"),
    "BE": ("Belgium", "Belgien", "België", "Belgie", "Belgique", "Belgio", "BEL"),
    "BG": ("Bulgaria", "Bulgarien", "Bulgarie", "България", "Balgariya", "BGR"),
    "HR": ("Croatia", "Kroatien", "Hrvatska", "Croatie", "HRV"),
    "CY": ("Cyprus", "Cypern", "Zypern", "Chypre", "Κύπρος", "Kypros", "Kibris", "CYP"),
    "CZ": ("Czech Republic", "Czechia", "Tjekkiet", "Tjekkiske Republik", "Tschechien", "Tschechische Republik",
           "Česko", "Česká republika", "Ceska republika", "Tjeckien", "Tsjekkia", "République tchèque", "CZE"),
    "DK": ("Denmark", "Danmark", "Dänemark", "Daenemark", "Danemark", "Tanska", "Dania", "Denemarken",
           "Danimarca", "Dinamarca", "DNK"),
    "EE": ("Estonia", "Estland", "Eesti", "Estonie", "Viro", "EST"),
    "FI": ("Finland", "Finnland", "Suomi", "Finlande", "Finlandia", "FIN"),
    "FR": ("France", "Frankrig", "Frankreich", "Frankrike", "Frankrijk", "Francia", "Ranska", "Francja", "FRA"),
    "DE": ("Germany", "Tyskland", "Deutschland", "Allemagne", "Duitsland", "Germania", "Alemania", "Saksa",
           "Niemcy", "Federal Republic of Germany", "Bundesrepublik Deutschland", "BRD", "DEU"),
    "GR": ("Greece", "Grækenland", "Griechenland", "Grekland", "Hellas", "Ελλάδα", "Ellada", "Grèce", "GRC",
           "EL"),
    "HU": ("Hungary", "Ungarn", "Magyarország", "Ungern", "Hongrie", "HUN"),
    "IS": ("Iceland", "Island", "Ísland", "Islande", "ISL"),
    "IE": ("Ireland", "Irland", "Éire", "Eire", "Irlande", "Republic of Ireland", "IRL"),
    "IT": ("Italy", "Italien", "Italia", "Italie", "Italië", "ITA"),
    "LV": ("Latvia", "Letland", "Lettland", "Latvija", "Lettonie", "LVA"),
    "LI": ("Liechtenstein", "LIE"),
    "LT": ("Lithuania", "Litauen", "Lietuva", "Lituanie", "LTU"),
    "LU": ("Luxembourg", "Luxemburg", "Lëtzebuerg", "LUX"),
    "MT": ("Malta", "Malte", "MLT"),
    "NL": ("Netherlands", "The Netherlands", "Holland", "Nederland", "Nederlandene", "Niederlande", "Pays-Bas",
           "Nederländerna", "Alankomaat", "Paesi Bassi", "Países Bajos", "NLD"),
    "NO": ("Norway", "Norge", "Noreg", "Norwegen", "Norvège", "Norja", "Norwegia", "NOR"),
    "PL": ("Poland", "Polen", "Polska", "Pologne", "Puola", "POL"),
    "PT": ("Portugal", "PRT"),
    "RO": ("Romania", "Rumænien", "Rumänien", "România", "Roumanie", "ROU"),
    "SK": ("Slovakia", "Slovakiet", "Slowakei", "Slovensko", "Slovaquie", "Slovak Republic", "SVK"),
    "SI": ("Slovenia", "Slovenien", "Slowenien", "Slovenija", "Slovénie", "SVN"),
    "ES": ("Spain", "Spanien", "España", "Espana", "Espagne", "Espanja", "Hiszpania", "ESP"),
    "SE": ("Sweden", "Sverige", "Schweden", "Suède", "Ruotsi", "Zweden", "Svezia", "Suecia", "Szwecja", "SWE"),
    "CH": ("Switzerland", "Schweiz", "Suisse", "Svizzera", "Svizra", "Sveits", "Zwitserland", "Confoederatio Helvetica",
           "Helvetia", "CHE"),
    "GB": ("United Kingdom", "UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales",
           "Northern Ireland", "Storbritannien", "Storbritannia", "Großbritannien", "Grossbritannien",
           "Vereinigtes Königreich", "Royaume-Uni", "Verenigd Koninkrijk", "Iso-Britannia", "Wielka Brytania",
           "England (UK)", "GBR"),
    "US": ("United States", "United States of America", "USA", "U.S.A.", "U.S.", "America", "Amerika", "USA (US)",
           "Vereinigte Staaten", "Forenede Stater", "Förenta staterna", "États-Unis", "Etats-Unis", "Verenigde Staten"),
    "FO": ("Faroe Islands", "Færøerne", "Føroyar", "Färöer", "FRO"),
    "GL": ("Greenland", "Grønland", "Kalaallit Nunaat", "Grönland", "GRL"),
    "CA": ("Canada", "Kanada", "CAN"),
}  # fmt: skip
"""ISO-3166 alpha-2 -> names in English, Danish, the native language(s), neighbours; alpha-3 codes."""


def _country_key(text: str) -> str:
    return " ".join(_words(text))


_COUNTRY_LOOKUP: dict[str, str] = {}
for _code, _names in _COUNTRY_NAMES.items():
    _COUNTRY_LOOKUP[_code.lower()] = _code
    for _name in _names:
        _COUNTRY_LOOKUP[_name.casefold()] = _code
        if _country_key(_name):
            _COUNTRY_LOOKUP[_country_key(_name)] = _code
_COUNTRY_LOOKUP["uk"] = "GB"
_COUNTRY_LOOKUP["el"] = "GR"
_COUNTRY_PART = re.compile(r"[,;/()\-]")


@lru_cache(maxsize=4096)
def country_code(text: str | None) -> str | None:
    """ISO-3166 alpha-2 code for a free-text country ("Danmark", "Deutschland", "DNK", "dk"), or None."""
    if not text:
        return None
    raw = text.strip().casefold()
    code = _COUNTRY_LOOKUP.get(raw) or _COUNTRY_LOOKUP.get(_country_key(text))
    if code:
        return code
    # "Denmark (DK)", "DK - Danmark": any unambiguous part.
    parts = {_COUNTRY_LOOKUP.get(_country_key(part)) for part in _COUNTRY_PART.split(text) if part.strip()}
    parts.discard(None)
    return parts.pop() if len(parts) == 1 else None


_CC_TLDS: frozenset[str] = frozenset({code.lower() for code in _COUNTRY_NAMES} - {"us", "ca"})
"""Country-code domains that mostly mean what they say (not .co, .io, .me, .tv)."""


def _domain_country(domain: str | None) -> str | None:
    if not domain:
        return None
    tld = domain.rsplit(".", 1)[-1]
    if tld == "uk":
        return "GB"
    return tld.upper() if tld in _CC_TLDS else None
