"""`[goals]` and `[funnels]` of rings.toml: what a site is for, checked before any data moves.

A goal is a page goal (a path pattern: `*` matches within one segment, `**` across segments, the
rest literally; matched against the whole stored page path) or an event goal (`event:NAME`, a
route-rule event). A funnel is an ordered list of steps, each a path, a path pattern or
`goal:NAME`. Both may be global or per tenant (`[goals."shop.example"]`); a tenant's own entry of
a name replaces the global one. Pure Python: count/goals.py does the counting with Polars.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from rings_cli.core.errors import UsageError
from rings_cli.core.state import TENANT_PATTERN

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
EVENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")  # what a route rule may name an event
MAX_GOALS = 64  # per tenant: each is one pass over a batch's page paths
MAX_FUNNELS = 16
MAX_STEPS = 16
MAX_PATTERN = 512
EVENT_PREFIX, GOAL_PREFIX = "event:", "goal:"


@dataclass(frozen=True)
class Goal:
    """One goal: `tenant` None for every tenant; `event` set for an event goal, else `regex` (the
    page pattern as an anchored regex for Polars and Python alike)."""

    name: str
    spec: str  # as written in rings.toml
    tenant: str | None = None
    event: str | None = None
    regex: str | None = None


@dataclass(frozen=True)
class Funnel:
    """An ordered list of steps; each step is a page regex or a goal's name (`goal`)."""

    name: str
    steps: tuple[str, ...]  # as written: "/", "/pricing", "goal:signup"
    tenant: str | None = None


def pattern_regex(pattern: str) -> str:
    """A path pattern as an anchored regex: `**` any characters, `*` any but `/`, the rest literal."""
    parts = re.split(r"(\*\*|\*)", pattern)
    body = "".join(".*" if p == "**" else "[^/]*" if p == "*" else re.escape(p) for p in parts)
    return f"^{body}$"


def _page_pattern(spec: str, where: str) -> str:
    if not spec or not spec.startswith("/"):
        raise UsageError(
            f"{where}: a path pattern starts with / (like /welcome or /docs/**), not {spec!r:.40}"
        )
    if len(spec) > MAX_PATTERN:
        raise UsageError(f"{where}: a path pattern of at most {MAX_PATTERN} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in spec):
        raise UsageError(f"{where}: control characters are not allowed in a path pattern")
    return pattern_regex(spec)


def _goal(name: object, spec: object, tenant: str | None, events: set[str]) -> Goal:
    where = f"[goals{'.' + json.dumps(tenant) if tenant else ''}] {name!s:.40}"
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UsageError(f"{where}: a goal name is letters, digits, _ . - (at most 64), not {name!r:.40}")
    if not isinstance(spec, str):
        raise UsageError(f'{where}: a goal is a path pattern ("/welcome") or "event:NAME"')
    if spec.startswith(EVENT_PREFIX):
        event = spec[len(EVENT_PREFIX) :]
        if not EVENT_NAME.fullmatch(event):
            raise UsageError(f"{where}: {event!r:.40} is not an event name (a-z, 0-9, _)")
        if event not in events:
            raise UsageError(
                f"{where}: no route rule makes the event {event!r} (known: {', '.join(sorted(events))})"
            )
        return Goal(name, spec, tenant, event=event)
    return Goal(name, spec, tenant, regex=_page_pattern(spec, where))


def parse_goals(table: object, events: set[str]) -> tuple[Goal, ...]:
    """`[goals]`: name = spec, and `[goals."tenant"]` tables of the same (tenant names checked by
    the caller's rule: lower-case host form)."""
    entries = _entries(table, "goals", 'signup = "/welcome"')
    out = [_goal(name, spec, tenant, events) for name, spec, tenant in entries]
    for tenant in {g.tenant for g in out}:
        if len(goals_for(out, tenant or "")) > MAX_GOALS:
            raise UsageError(f"[goals]: at most {MAX_GOALS} goals a tenant")
    return tuple(out)


def _entries(table: object, section: str, example: str) -> list[tuple[object, object, str | None]]:
    """(name, value, tenant) of a `[section]` table: its entries (tenant None) and those of its
    `[section."tenant"]` tables, in file order."""
    if not isinstance(table, dict):
        raise UsageError(f"[{section}] must be a table: {example}")
    out: list[tuple[object, object, str | None]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            own = _tenant(key, section)
            out += [(name, item, own) for name, item in value.items()]
        else:
            out.append((key, value, None))
    return out


def _tenant(key: object, section: str) -> str:
    if not isinstance(key, str) or not re.fullmatch(TENANT_PATTERN, key):
        raise UsageError(f"[{section}.{key!r:.40}]: not a tenant name (lower-case, like shop.example)")
    return key


def _funnel(name: object, steps: object, tenant: str | None, goals: tuple[Goal, ...]) -> Funnel:
    where = f"[funnels{'.' + json.dumps(tenant) if tenant else ''}] {name!s:.40}"
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UsageError(f"{where}: a funnel name is letters, digits, _ . - (at most 64), not {name!r:.40}")
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise UsageError(f'{where}: a funnel is a list of steps: ["/", "/pricing", "goal:signup"]')
    if not 2 <= len(steps) <= MAX_STEPS:
        raise UsageError(f"{where}: a funnel has 2 to {MAX_STEPS} steps, not {len(steps)}")
    # A tenant's funnel may name its own goals and the global ones; a global funnel the global ones.
    known = {g.name for g in (goals_for(goals, tenant) if tenant else [g for g in goals if g.tenant is None])}
    for step in steps:
        if step.startswith(GOAL_PREFIX):
            if step[len(GOAL_PREFIX) :] not in known:
                raise UsageError(
                    f"{where}: unknown goal {step[len(GOAL_PREFIX) :]!r:.40}"
                    f" (known: {', '.join(sorted(known)) or 'none'})"
                )
        else:
            _page_pattern(step, where)
    return Funnel(name, tuple(steps), tenant)


def parse_funnels(table: object, goals: tuple[Goal, ...]) -> tuple[Funnel, ...]:
    """`[funnels]`: name = [steps], and `[funnels."tenant"]` tables of the same."""
    entries = _entries(table, "funnels", 'checkout = ["/", "/pricing", "goal:signup"]')
    out = [_funnel(name, steps, tenant, goals) for name, steps, tenant in entries]
    for tenant in {f.tenant for f in out}:
        if len(funnels_for(out, tenant or "")) > MAX_FUNNELS:
            raise UsageError(f"[funnels]: at most {MAX_FUNNELS} funnels a tenant")
    return tuple(out)


def goals_for(goals: tuple[Goal, ...] | list[Goal], tenant: str) -> list[Goal]:
    """A tenant's goals: the global ones, each replaced by the tenant's own of that name."""
    own = {g.name: g for g in goals if g.tenant == tenant}
    merged = {g.name: g for g in goals if g.tenant is None}
    merged.update(own)
    return sorted(merged.values(), key=lambda g: g.name)


def funnels_for(funnels: tuple[Funnel, ...] | list[Funnel], tenant: str) -> list[Funnel]:
    """A tenant's funnels: the global ones, each replaced by the tenant's own of that name."""
    merged = {f.name: f for f in funnels if f.tenant is None}
    merged.update({f.name: f for f in funnels if f.tenant == tenant})
    return sorted(merged.values(), key=lambda f: f.name)


def fingerprint(goals: tuple[Goal, ...], funnels: tuple[Funnel, ...], tenant: str) -> str:
    """What a tenant's goals and funnels are, as a short digest: a DO file whose goal rows were
    counted under another one has them counted again from its stored page views."""
    spec = [[g.name, g.spec] for g in goals_for(goals, tenant)]
    spec += [[f.name, *f.steps] for f in funnels_for(funnels, tenant)]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16] if spec else ""
