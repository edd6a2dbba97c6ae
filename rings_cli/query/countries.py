"""Country names for ISO codes: apart from breakdowns.py so that `rings report` can name
countries without importing Polars."""

from __future__ import annotations

__all__ = ["country_name"]

# The names people use where ISO's are long or formal ("United Kingdom of Great Britain and ...").
_SHORT_NAMES = {
    "BO": "Bolivia",
    "BN": "Brunei",
    "CD": "DR Congo",
    "CZ": "Czechia",
    "FM": "Micronesia",
    "GB": "United Kingdom",
    "IR": "Iran",
    "KP": "North Korea",
    "KR": "South Korea",
    "LA": "Laos",
    "MD": "Moldova",
    "PS": "Palestine",
    "RU": "Russia",
    "SY": "Syria",
    "TW": "Taiwan",
    "TZ": "Tanzania",
    "US": "United States",
    "VE": "Venezuela",
    "VN": "Vietnam",
}


def country_name(code: str) -> str:
    """An ISO 3166-1 alpha-2 code's English name (`iso3166`, a short form for the long ones);
    UNKNOWN and unlisted codes as they are."""
    import iso3166

    if code in _SHORT_NAMES:
        return _SHORT_NAMES[code]
    country = iso3166.countries_by_alpha2.get(code)
    return country.apolitical_name if country is not None else code
