"""The documented health-score formula."""

from handlers.use_cases.profile_health import health_score

NOW = "2026-11-21T00:00:00.000Z"
GOOD = {"satisfactionScore": 100, "issueCount": 0, "averageResolutionMinutes": 30}


def test_perfect_customer_scores_100() -> None:
    assert health_score(GOOD, "2026-11-20T00:00:00.000Z", [], NOW) == 100


def test_new_customer_without_data() -> None:
    # 0.35*50 + 0.15*100 + 0.15*100 + 0.20*0 + 0.15*100 = 62.5 → 62 (banker's rounding)
    assert health_score(None, None, [], NOW) == 62


def test_each_part_lowers_the_score() -> None:
    base = health_score(GOOD, "2026-11-20T00:00:00.000Z", [], NOW)
    assert (
        health_score({**GOOD, "satisfactionScore": 0}, "2026-11-20T00:00:00.000Z", [], NOW)
        == base - 35
    )
    assert (
        health_score({**GOOD, "issueCount": 10}, "2026-11-20T00:00:00.000Z", [], NOW) == base - 15
    )
    assert health_score(
        {**GOOD, "averageResolutionMinutes": 120}, "2026-11-20T00:00:00.000Z", [], NOW
    ) == round(base - 7.5)
    assert health_score(GOOD, None, [], NOW) == base - 20
    assert health_score(GOOD, "2026-11-20T00:00:00.000Z", [0, 0], NOW) == base - 15


def test_engagement_fades_between_30_and_180_days() -> None:
    recent = health_score(GOOD, "2026-10-25T00:00:00.000Z", [], NOW)  # 27 days
    middle = health_score(GOOD, "2026-07-24T00:00:00.000Z", [], NOW)  # 120 days
    old = health_score(GOOD, "2026-01-01T00:00:00.000Z", [], NOW)  # > 180 days
    assert recent > middle > old
    assert old == recent - 20
