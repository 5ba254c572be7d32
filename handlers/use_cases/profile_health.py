"""The derived customer profile and its health score (formula documented in the README)."""

from datetime import datetime
from typing import Any

ENGAGED_DAYS = 30  # an interaction this recent counts fully
DISENGAGED_DAYS = 180  # ... and one this old (or none) counts nothing
NEUTRAL_SATISFACTION = 50.0  # before any metrics arrive


def health_score(
    metrics: dict[str, Any] | None,
    last_interaction_at: str | None,
    commitment_progress: list[int],
    now: str,
) -> int:
    """0–100: 35% satisfaction, 15% issues, 15% resolution speed, 20% engagement,
    15% commitment progress. Every part is itself 0–100."""
    satisfaction = float(metrics["satisfactionScore"]) if metrics else NEUTRAL_SATISFACTION
    issues = max(0.0, 100.0 - 10.0 * metrics["issueCount"]) if metrics else 100.0
    resolution = (
        100.0 * 60.0 / max(60.0, float(metrics["averageResolutionMinutes"])) if metrics else 100.0
    )
    engagement = _engagement(last_interaction_at, now)
    commitments = (
        sum(commitment_progress) / len(commitment_progress) if commitment_progress else 100.0
    )
    score = (
        0.35 * satisfaction
        + 0.15 * issues
        + 0.15 * resolution
        + 0.20 * engagement
        + 0.15 * commitments
    )
    return max(0, min(100, round(score)))


def _engagement(last_interaction_at: str | None, now: str) -> float:
    if last_interaction_at is None:
        return 0.0
    age_days = (_parse(now) - _parse(last_interaction_at)).total_seconds() / 86400
    if age_days <= ENGAGED_DAYS:
        return 100.0
    if age_days >= DISENGAGED_DAYS:
        return 0.0
    return 100.0 * (DISENGAGED_DAYS - age_days) / (DISENGAGED_DAYS - ENGAGED_DAYS)


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def derived_profile(
    *,
    interaction_count: int,
    last_interaction_at: str | None,
    open_commitments: int,
    commitment_progress: list[int],
    metrics: dict[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    """The `profile` sub-document stored on the customer."""
    return {
        "interactionCount": interaction_count,
        "lastInteractionAt": last_interaction_at,
        "openCommitments": open_commitments,
        "healthScore": health_score(metrics, last_interaction_at, commitment_progress, now),
        "computedAt": now,
    }
