"""Outdated browsers: an agent whose browser's major version came out more than 5 years before the
line is a bot (reason `outdated browser`): a person does not keep a browser that old, a scanner or
scraper rotating through a list of stock agents does.

The release month of a major comes from `RELEASES`, a fixed table of anchors per browser family (as
ua-parser names them), documented in docs/definitions.md: majors between two anchors of one segment
are interpolated and rounded to the later month (when unsure, a version is dated later, so never
called outdated too soon); a major outside every segment (a fake, a typo, a numbering the table
does not know) has no date and is never outdated, nor is a family the table does not list. Families
that stopped (`DEAD`) date every version at their last release. Embedded browsers (TVs, consoles,
e-readers, cars, headsets) ship old engines on devices people use, and are never judged by age.

Judged per distinct agent (its release month, from the cached ua-parser result) and the month of
each line: `cutoff` is the first instant at which the agent counts as outdated.
"""

from __future__ import annotations

import datetime as dt
import math
import re

YEARS = 5  # a major released more than this many years before the line is outdated

Segment = tuple[tuple[int, str], ...]  # (major, "YYYY-MM" of its first stable release), ascending

_CHROME: Segment = (
    (1, "2008-12"), (2, "2009-05"), (3, "2009-10"), (4, "2010-01"), (5, "2010-05"), (6, "2010-09"),
    (8, "2010-12"), (10, "2011-03"), (12, "2011-06"), (16, "2011-12"), (20, "2012-06"), (24, "2013-01"),
    (28, "2013-07"), (32, "2014-01"), (36, "2014-07"), (40, "2015-01"), (44, "2015-07"), (48, "2016-01"),
    (52, "2016-07"), (56, "2017-01"), (60, "2017-07"), (64, "2018-01"), (68, "2018-07"), (72, "2019-01"),
    (76, "2019-07"), (80, "2020-02"), (81, "2020-04"), (83, "2020-05"), (88, "2021-01"), (92, "2021-07"),
    (94, "2021-09"), (100, "2022-03"), (104, "2022-08"), (109, "2023-01"), (114, "2023-05"),
    (120, "2023-12"), (121, "2024-01"), (126, "2024-06"), (131, "2024-11"), (132, "2025-01"),
    (137, "2025-05"), (140, "2025-09"), (143, "2025-12"), (144, "2026-01"),
)  # fmt: skip
_FIREFOX: Segment = (
    (0, "2003-06"), (1, "2004-11"), (2, "2006-10"), (3, "2008-06"), (4, "2011-03"), (5, "2011-06"),
    (10, "2012-01"), (20, "2013-04"), (30, "2014-06"), (40, "2015-08"), (50, "2016-11"), (57, "2017-11"),
    (60, "2018-05"), (70, "2019-10"), (80, "2020-08"), (90, "2021-07"), (100, "2022-05"), (110, "2023-02"),
    (115, "2023-07"), (120, "2023-11"), (128, "2024-07"), (134, "2025-01"), (140, "2025-06"),
    (147, "2026-01"),
)  # fmt: skip
_SAFARI: tuple[Segment, ...] = (  # by Version/N, desktop and iOS (iOS N ships Safari N since iOS 7)
    (
        (3, "2007-10"), (4, "2009-06"), (5, "2010-06"), (6, "2012-07"), (7, "2013-10"), (8, "2014-10"),
        (9, "2015-09"), (10, "2016-09"), (11, "2017-09"), (12, "2018-09"), (13, "2019-09"), (14, "2020-09"),
        (15, "2021-09"), (16, "2022-09"), (17, "2023-09"), (18, "2024-09"),
    ),
    ((26, "2025-09"),),
)  # fmt: skip
_EDGE_HTML: Segment = (
    (12, "2015-07"), (13, "2015-11"), (14, "2016-08"), (15, "2017-04"), (16, "2017-10"), (17, "2018-04"),
    (18, "2018-11"),
)  # fmt: skip
_EDGE_CHROMIUM: Segment = ((79, "2020-01"), *(a for a in _CHROME if a[0] >= 80))  # within days of Chrome
_OPERA: tuple[Segment, ...] = (
    (
        (3, "1998-11"), (4, "2000-06"), (5, "2000-12"), (6, "2001-11"), (7, "2003-01"), (8, "2005-04"),
        (9, "2006-06"), (10, "2009-09"), (11, "2010-12"), (12, "2012-06"),
    ),  # Presto
    (
        (15, "2013-07"), (20, "2014-03"), (30, "2015-06"), (40, "2016-09"), (50, "2018-01"), (60, "2019-04"),
        (70, "2020-07"), (80, "2021-10"), (90, "2022-08"), (100, "2023-06"), (106, "2024-01"),
        (115, "2024-11"), (120, "2025-07"),
    ),  # Chromium
)  # fmt: skip
_OPERA_MOBILE: tuple[Segment, ...] = (
    ((9, "2008-06"), (10, "2010-03"), (11, "2011-03"), (12, "2012-02")),
    (
        (14, "2013-05"), (20, "2014-01"), (30, "2015-08"), (40, "2017-01"), (50, "2019-01"), (60, "2020-10"),
        (70, "2022-07"), (80, "2024-01"), (90, "2025-06"),
    ),
)  # fmt: skip
_SAMSUNG: Segment = (
    (1, "2013-06"), (2, "2015-03"), (4, "2016-03"), (5, "2016-12"), (6, "2017-08"), (7, "2018-03"),
    (8, "2018-10"), (9, "2019-02"), (10, "2019-08"), (12, "2020-05"), (14, "2021-03"), (16, "2021-11"),
    (18, "2022-08"), (20, "2023-01"), (24, "2024-01"), (28, "2025-03"),
)  # fmt: skip
_IE: Segment = (
    (1, "1995-08"), (2, "1995-11"), (3, "1996-08"), (4, "1997-09"), (5, "1999-03"), (6, "2001-08"),
    (7, "2006-10"), (8, "2009-03"), (9, "2011-03"), (10, "2012-10"), (11, "2013-10"),
)  # fmt: skip

# ua-parser family -> segments of (major, first release). Every date is the month of the first
# stable release of that major.
RELEASES: dict[str, tuple[Segment, ...]] = {
    **dict.fromkeys(
        ("Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium"), (_CHROME,)
    ),
    **dict.fromkeys(
        (
            "Firefox",
            "Firefox Mobile",
            "Firefox Beta",
            "Firefox Alpha",
            "Iceweasel",
            "Firefox (Minefield)",
            "Firefox (Shiretoko)",
            "Firefox (Namoroka)",
        ),
        (_FIREFOX,),
    ),
    "Firefox iOS": (((1, "2015-11"), (39, "2022-01")), tuple(a for a in _FIREFOX if a[0] >= 100)),
    "Safari": _SAFARI,
    "Mobile Safari": _SAFARI,
    "Edge": (_EDGE_HTML, _EDGE_CHROMIUM),
    "Edge Mobile": (_EDGE_HTML, ((41, "2017-10"), (46, "2021-01")), _EDGE_CHROMIUM),
    "Opera": _OPERA,
    "Opera Mobile": _OPERA_MOBILE,
    "Samsung Internet": (_SAMSUNG,),
    "IE": (_IE,),
    "Netscape": (((6, "2000-11"), (7, "2002-08"), (8, "2005-05"), (9, "2007-10")),),
    "Yandex Browser": (((13, "2013-12"), (26, "2026-12")),),  # YY.x: year 20YY, dated December
}
# Families with no release for years: every version dated at the family's last release.
DEAD: dict[str, str] = {
    "IE Mobile": "2014-04",
    "Camino": "2012-03",
    "Flock": "2011-01",
    "Galeon": "2008-09",
    "Firebird": "2004-02",
    "Phoenix": "2003-04",
    "Minimo": "2008-01",
    "Chrome Frame": "2014-01",
    "BlackBerry WebKit": "2014-01",
    "BlackBerry": "2013-01",
    "NetFront": "2013-01",
    "Nokia Browser": "2014-01",
    "Nokia OSS Browser": "2012-01",
    "Nokia Services (WAP) Browser": "2012-01",
    "webOS Browser": "2012-01",
    "Arora": "2011-01",
    "Rekonq": "2013-12",
    "Swiftfox": "2011-01",
    "Bon Echo": "2006-10",
    "Iceape": "2017-01",
}
# Browsers built into devices that keep an old engine for years: never judged by age.
EMBEDDED = re.compile(
    r"(?i)smart-?tv|tizen|web0s|webos|hbbtv|netcast|bravia|\bcrkey\b|googletv|android tv|\baft[a-z]"
    r"|roku|playstation|xbox|nintendo|kindle|silk/|\bkobo|tesla|qtcarbrowser|\bvr\b|oculus|quest"
)


def _month(text: str) -> int:
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1


def release_month(family: str, major: str, ua: str = "") -> int | None:
    """Months since year 0 of the first release of `family` `major` (None: not dated, never
    outdated)."""
    if ua and EMBEDDED.search(ua):
        return None
    if family in DEAD:
        return _month(DEAD[family])
    segments = RELEASES.get(family)
    if segments is None or not major.isdigit():
        return None
    m = int(major)
    for seg in segments:
        if not seg[0][0] <= m <= seg[-1][0]:
            continue
        for (m0, d0), (m1, d1) in zip(seg, (*seg[1:], seg[-1]), strict=True):
            if m == m0:
                return _month(d0)
            if m0 < m < m1:  # between two anchors: the later month when it falls between two
                a, b = _month(d0), _month(d1)
                return math.ceil(a + (b - a) * (m - m0) / (m1 - m0))
    return None


def cutoff(family: str, major: str, ua: str = "") -> dt.datetime | None:
    """The first instant at which this agent is outdated: the start of the month more than YEARS
    years after its release (None: never)."""
    released = release_month(family, major, ua)
    if released is None:
        return None
    first = released + YEARS * 12 + 1
    return dt.datetime(first // 12, first % 12 + 1, 1, tzinfo=dt.UTC)
