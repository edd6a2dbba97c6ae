"""Ops: `rings check` (verify the state dir, repair what can be repaired) and `rings audit` (the
privacy promises checked on the state dir's bytes).

May import: core up to query. Not ui or web (peers).
"""
