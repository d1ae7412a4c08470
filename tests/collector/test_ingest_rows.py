"""The rows and feed entries ingest builds as plain dicts say what the models would have said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from duecare.collector import ingest
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.schemas import report_summary
from duecare.wire.api import ChangePayload

_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_times = st.builds(
    lambda dt, tz: dt.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31)),
    st.one_of(st.just(UTC), _offsets),
)


@given(
    started=_times,
    finished=_times,
    received=_times,
    previous=st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
    gap=st.booleans(),
    count=st.integers(min_value=0, max_value=100_000),
)
def test_the_feed_s_report_summary_is_the_model_s(
    started: datetime, finished: datetime, received: datetime, previous: str | None, gap: bool, count: int
) -> None:
    row = {
        "id": "0b9e8a52-3c55-4bd4-9d0e-3f6f0c2f6b1a",
        "client_id": "c1",
        "site_id": "s1",
        "agent_id": "a1",
        "report_hash": "ab" * 32,
        "raw_report": "{}",
        "signature": "sig",
        "received_at": received,
        "started_at": started,
        "finished_at": finished,
        "previous_report_hash": previous,
        "finding_count": count,
        "sequence": 7,
        "chain_gap": gap,
    }
    model = ChangePayload(report=report_summary(ReportRow(**row))).model_dump(mode="json")
    assert {"report": ingest._summary(row)} == {k: v for k, v in model.items() if v is not None}


def test_a_receipt_built_from_the_row_is_the_stored_row_s() -> None:
    now = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
    row = {
        "id": "6c1f1e0e-5a7b-4c8e-9a51-2d9f0a4e7c33",
        "report_hash": "ab" * 32,
        "sequence": 3,
        "received_at": now,
        "chain_gap": False,
        "agent_id": "a1",
    }
    stored = ReportRow(**row)
    assert ingest._receipt(row, duplicate=True) == ingest.receipt_of(stored, duplicate=True)
