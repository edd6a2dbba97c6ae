"""The report's goals and funnels: rows of queries/goals.sql, goal_sources.sql and funnels.sql
shaped with what rings.toml configures (a configured goal none completed is a row of zeros; a
funnel's steps are named as rings.toml names them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rings_cli.core.config import Config
from rings_cli.core.goals import Funnel, Goal, funnels_for, goals_for
from rings_cli.query.model import FunnelRow, FunnelStep, GoalRow, Sections

QUERIES = ("goals", "goal_sources", "funnels")


def _num(value: Any) -> int:
    return int(value or 0) if not isinstance(value, Decimal) else int(value)


def configured(config: Config, tenant: str | None) -> tuple[list[Goal], list[Funnel]]:
    """The goals and funnels a report of `tenant` (None: every tenant) expects."""
    if tenant is not None:
        return goals_for(config.goals, tenant), funnels_for(config.funnels, tenant)
    goals = {g.name: g for g in config.goals}
    funnels = {f.name: f for f in config.funnels if f.tenant is None}
    funnels.update({f.name: f for f in config.funnels if f.name not in funnels})
    return sorted(goals.values(), key=lambda g: g.name), sorted(funnels.values(), key=lambda f: f.name)


def sections(
    rows: dict[str, list[dict[str, Any]]],
    config: Config,
    tenant: str | None,
    limit: int,
    first_day: str | None = None,
) -> Sections:
    """`goals`, `goals_since` and `funnels` for the report (only the keys that apply: none when no
    goal is configured and the range holds none). `first_day`: the range's first day with data."""
    goals, funnels = configured(config, tenant)
    out: dict[str, Any] = {}
    found = {r["goal"]: r for r in rows.get("goals", [])}
    if goals or found:
        sources: dict[str, list[dict[str, Any]]] = {}
        for r in rows.get("goal_sources", []):
            listed = sources.setdefault(r["goal"], [])
            if len(listed) < limit:
                listed.append({"source": r["source"], "visitors": _num(r["visitors"])})
        names = list(found) + [g.name for g in goals if g.name not in found]
        out["goals"] = [_goal_row(name, found.get(name), sources.get(name, [])) for name in names]
        since = {
            name: r["since"]
            for name, r in found.items()
            if first_day is not None and r.get("since") and r["since"] > first_day
        }
        if since:
            out["goals_since"] = since
    steps: dict[str, dict[int, int]] = {}
    for r in rows.get("funnels", []):
        steps.setdefault(r["funnel"], {})[int(r["step"])] = _num(r["visitors"])
    if funnels or steps:
        named = {f.name: f for f in funnels}
        out["funnels"] = [
            _funnel_row(name, named.get(name), steps.get(name, {})) for name in sorted({*named, *steps})
        ]
    return out  # type: ignore[return-value]


def _goal_row(name: str, row: dict[str, Any] | None, sources: list[dict[str, Any]]) -> GoalRow:
    row = row or {}
    return {
        "goal": name,
        "visitors": _num(row.get("visitors")),
        "completions": _num(row.get("completions")),
        "conversion_rate": round(float(row.get("conversion_rate") or 0), 6),
        "sources": sources,  # type: ignore[typeddict-item]
    }


def _funnel_row(name: str, funnel: Funnel | None, counts: dict[int, int]) -> FunnelRow:
    """Every configured step (0 for a step no one reached); a funnel no longer configured shows
    the steps the data has, as `step N`."""
    labels = list(funnel.steps) if funnel is not None else [f"step {n}" for n in sorted(counts)]
    numbers = list(range(1, len(labels) + 1)) if funnel is not None else sorted(counts)
    steps: list[FunnelStep] = [
        {"step": label, "visitors": counts.get(n, 0)} for label, n in zip(labels, numbers, strict=True)
    ]
    return {"funnel": name, "steps": steps, "conversion_rate": _rate(steps)}


def _rate(steps: list[FunnelStep]) -> float:
    """The last step's visitors over the first's (0 when no one reached the first)."""
    first = steps[0]["visitors"] if steps else 0
    return round(steps[-1]["visitors"] / first, 6) if first else 0.0


def aligned(report: Sections, previous: Sections) -> dict[str, Any]:
    """`--compare`: the previous period's goals and funnels, the report's rows in its order."""
    out: dict[str, Any] = {}
    if "goals" in report:
        before = {g["goal"]: g for g in previous.get("goals", [])}
        out["goals"] = [before.get(g["goal"]) or _goal_row(g["goal"], None, []) for g in report["goals"]]
    if "funnels" in report:
        earlier = {f["funnel"]: f for f in previous.get("funnels", [])}
        rows: list[FunnelRow] = []
        for f in report["funnels"]:
            had = earlier.get(f["funnel"])
            counts = {s["step"]: s["visitors"] for s in had["steps"]} if had else {}
            steps: list[FunnelStep] = [
                {"step": s["step"], "visitors": counts.get(s["step"], 0)} for s in f["steps"]
            ]
            rows.append({"funnel": f["funnel"], "steps": steps, "conversion_rate": _rate(steps)})
        out["funnels"] = rows
    return out
