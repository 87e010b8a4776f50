"""Helpers for the worked cases on the bundled rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from referral_engine import Recommendation, ServiceDecision, recommend

AS_OF = dt.date(2026, 3, 1)


def decide(
    service: str, profile: dict[str, Any], as_of: dt.date = AS_OF
) -> tuple[Recommendation, ServiceDecision]:
    """The recommendation for ``profile`` on ``as_of`` and its decision for ``service``."""
    rec = recommend(profile, as_of=as_of)
    return rec, rec.decision(service)


def holding(decision: ServiceDecision) -> set[str]:
    """Ids of the rules in force whose conditions hold for the case."""
    return {r.rule for r in decision.reasons if r.outcome == "holds" and r.in_force}
