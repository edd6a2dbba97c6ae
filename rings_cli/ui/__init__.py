"""UI: the report and the summary for people: Rich tables, text charts, the self-contained HTML
page, the `rings live` dashboard. Pure renderings of the report structure.

May import: core up to query. Not web or ops (peers).
"""
