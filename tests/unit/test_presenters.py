"""The JSON shapes both edges show: one time format for every time of a batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from docanchor.presenters import batch_json, iso, public_batch
from docanchor.service import Batch

# 12:00 UTC, written three ways: aware UTC, naive UTC (as some drivers give the
# columns back) and aware at UTC-05:00 (07:00 there).
NOON = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
NAIVE_NOON = NOON.replace(tzinfo=None)
LIMA_NOON = NOON.astimezone(timezone(timedelta(hours=-5)))


def test_iso_writes_utc_with_a_z_whatever_the_zone_it_is_given() -> None:
    expected = "2026-03-01T12:00:00.250000Z"
    assert iso(NOON) == iso(NAIVE_NOON) == iso(LIMA_NOON) == expected
    assert iso(None) is None


def test_a_batch_shows_its_times_as_every_other_time_is_shown() -> None:
    batch = Batch(
        id=1,
        root="ab" * 32,
        size=2,
        status="confirmed",
        sealed_at=NAIVE_NOON,
        anchored_at=LIMA_NOON,
        confirmed_at=NOON,
    )
    for shape in (batch_json(batch), public_batch(batch)):
        assert shape["sealed_at"] == "2026-03-01T12:00:00.250000Z"
        assert shape["anchored_at"] == "2026-03-01T12:00:00.250000Z"
        assert shape["confirmed_at"] == "2026-03-01T12:00:00.250000Z"
