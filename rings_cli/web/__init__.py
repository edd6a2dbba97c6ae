"""Web: `rings serve`. The Starlette app (API, auth, dashboard page), the hub that shares one read
among every client and pushes changes over WebSockets, and the static assets.

May import: core up to query. Not ui or ops (peers).
"""
