"""The project's words, defined once (docanchor.vocabulary) and the on-chain values
(docanchor.onchain): known answers written by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from docanchor.errors import InputError
from docanchor.onchain import OnChainRecord
from docanchor.vocabulary import (
    ADDRESS,
    UINT64_MAX,
    ZERO_ADDRESS,
    BatchAction,
    BatchStatus,
    DocumentStatus,
    parse_utc_text,
    utc_text,
    utc_text_of_timestamp,
)

ANCHORER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_statuses_are_the_stored_and_written_text() -> None:
    # The database and the JSON hold these exact strings; the enums must not change them.
    assert [s.value for s in DocumentStatus] == ["pending", "sealed", "anchored", "confirmed"]
    assert [s.value for s in BatchStatus] == ["sealed", "anchored", "confirmed"]
    assert {s.value for s in BatchStatus} < {s.value for s in DocumentStatus}
    assert BatchStatus.SEALED == "sealed" and DocumentStatus("anchored") is DocumentStatus.ANCHORED
    assert json.dumps({DocumentStatus.PENDING: BatchStatus.CONFIRMED}) == '{"pending": "confirmed"}'
    assert f"{BatchStatus.ANCHORED}" == "anchored"
    assert BatchAction("reanchored") is BatchAction.REANCHORED
    with pytest.raises(ValueError):
        BatchStatus("pending")  # a batch exists only once it is sealed


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # naive values are UTC (the database columns hold naive UTC)
        (datetime(2026, 3, 1, 12, 0, 0), "2026-03-01T12:00:00Z"),
        (datetime(2026, 3, 1, 12, 0, 0, 250000), "2026-03-01T12:00:00.250000Z"),
        (datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC), "2026-03-01T12:00:00Z"),
        # 07:00 at UTC-5 (Lima) is 12:00 UTC
        (
            datetime(2026, 3, 1, 7, 0, 0, tzinfo=timezone(timedelta(hours=-5))),
            "2026-03-01T12:00:00Z",
        ),
    ],
)
def test_one_utc_time_format(value: datetime, text: str) -> None:
    assert utc_text(value) == text
    assert parse_utc_text(text) == value.replace(tzinfo=value.tzinfo or UTC)


def test_timestamps_and_parsing() -> None:
    # 1772366400 = 2026-03-01T12:00:00Z (date -u -d @1772366400)
    assert utc_text_of_timestamp(1772366400) == "2026-03-01T12:00:00Z"
    assert parse_utc_text("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_utc_text("2026-03-01T07:00:00-05:00") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_utc_text("March 1st")


def test_the_zero_address_and_limits() -> None:
    assert ZERO_ADDRESS == "0x" + "00" * 20 and ADDRESS.fullmatch(ZERO_ADDRESS)
    assert ADDRESS.fullmatch(ANCHORER) and not ADDRESS.fullmatch(ANCHORER[:-1])
    assert UINT64_MAX == 18446744073709551615


def test_an_on_chain_record_is_unknown_only_with_the_zero_anchorer() -> None:
    def record(anchorer: str, seq: int = 0) -> OnChainRecord:
        return OnChainRecord(seq=seq, tree_size=1, timestamp=0, block_number=0, anchorer=anchorer)

    assert record(ZERO_ADDRESS).is_unknown
    assert record("0x" + "0" * 40).is_unknown
    assert not record(ANCHORER).is_unknown
    assert not record(ANCHORER.lower(), seq=0).is_unknown  # seq 0 is a real first anchor
    assert record(ANCHORER) == record(ANCHORER)
    with pytest.raises(InputError, match="uint64"):
        record(ANCHORER, seq=UINT64_MAX + 1)
    with pytest.raises(InputError, match="address"):
        record("0x00")


def test_the_one_formatter_writes_every_precision_with_a_z() -> None:
    # The deployment record (seconds) and the access log (milliseconds) use it too.
    value = datetime(2026, 3, 1, 7, 0, 0, 250000, tzinfo=timezone(timedelta(hours=-5)))
    assert utc_text(value, timespec="seconds") == "2026-03-01T12:00:00Z"
    assert utc_text(value, timespec="milliseconds") == "2026-03-01T12:00:00.250Z"
    assert utc_text(datetime(2026, 3, 1, 12), timespec="seconds") == "2026-03-01T12:00:00Z"


def test_no_other_module_formats_times() -> None:
    # Human texts (a PDF stamp, an error message) and SQL literals are not ISO times.
    import docanchor

    src = Path(docanchor.__file__).parent
    own = {"vocabulary.py"}
    found = [
        f"{path.relative_to(src)}:{n}"
        for path in sorted(src.rglob("*.py"))
        if path.name not in own
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".isoformat(" in line or 'replace("+00:00"' in line or '+ "Z"' in line
    ]
    assert found == []
