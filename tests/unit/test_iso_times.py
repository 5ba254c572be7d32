"""Stored timestamps are fixed-width UTC ISO-8601 strings with milliseconds."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from schemas.base import iso, iso_now

ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])


@given(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)), ZONES)
def test_iso_is_fixed_width_utc_with_milliseconds(moment: datetime, zone: timezone | None) -> None:
    moment = moment.replace(tzinfo=zone)
    utc = moment.replace(tzinfo=zone or UTC).astimezone(UTC)
    expected = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )
    assert iso(moment) == expected
    assert len(iso(moment)) == 24


def test_iso_now_is_iso_of_the_current_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    now = iso_now()
    after = datetime.now(UTC)
    assert len(now) == 24 and now.endswith("Z")
    parsed = datetime.fromisoformat(now[:-1]).replace(tzinfo=UTC)
    assert before <= parsed <= after
    assert iso(parsed) == now
