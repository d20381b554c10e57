"""The hash-chained audit log on SQLite and PostgreSQL: tamper detection, truncation, concurrent appends."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, delete, insert, select, update

from storage.audit import (
    GENESIS_HASH,
    Anchor,
    ChainBreak,
    append_audit,
    check_audit_chain,
    entry_hash,
    latest_audit,
    verify_anchor,
    verify_audit_chain,
)
from storage.database import Database
from storage.model import AuditAnchor, AuditEntry, Base

LOG = Base.metadata.tables["audit_log"]
ANCHOR = Base.metadata.tables["audit_anchor"]
COLUMNS = [c.name for c in LOG.columns if c.name != "id"]


def _fill(database: Database, count: int = 5) -> None:
    for index in range(count):
        with database.session() as session:
            append_audit(
                session,
                action="recording.view",
                allowed=index % 2 == 0,
                user_id=7,
                username="officer1",
                source="10.0.0.5",
                resource_type="camera",
                resource_id=f"gate-{index}",
                reason="complaint 2024-001",
                detail={"from": "2024-05-01T10:00:00Z", "n": index},
            )


def _breaks(database: Database) -> list[ChainBreak]:
    with database.session() as session:
        return check_audit_chain(session).breaks


def _broken_ids(database: Database) -> set[int]:
    return {b.entry_id for b in _breaks(database)}


def _row(database: Database, entry_id: int) -> dict[str, object]:
    with database.engine.connect() as connection:
        return dict(connection.execute(select(LOG).where(LOG.c.id == entry_id)).mappings().one())


def test_empty_log_is_valid(database: Database) -> None:
    with database.session() as session:
        assert verify_audit_chain(session) == (0, [])


def test_appended_rows_form_a_valid_chain(database: Database) -> None:
    _fill(database)
    with database.session() as session:
        report = check_audit_chain(session)
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        anchor = session.get(AuditAnchor, 1)
    assert (report.rows, report.last_id, report.breaks, report.ok) == (5, 5, [], True)
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(rows))
    assert anchor is not None and (anchor.last_id, anchor.last_hash) == (5, rows[-1].row_hash)
    assert rows[2].detail == '{"from":"2024-05-01T10:00:00Z","n":2}'


def test_times_in_other_zones_are_stored_as_utc_and_still_verify(database: Database) -> None:
    almaty = datetime(2024, 5, 1, 17, 0, tzinfo=timezone(timedelta(hours=5)))
    with database.session() as session:
        entry = append_audit(session, action="login", allowed=True, at=almaty)
    assert entry.at.tzinfo == UTC
    with database.session() as session:
        assert verify_audit_chain(session) == (1, [])
        assert session.scalars(select(AuditEntry.at)).one() == almaty


def test_naive_time_is_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="naive"), database.session() as session:
        append_audit(session, action="login", allowed=True, at=datetime(2024, 5, 1, 12, 0))


def test_changed_field_is_detected(database: Database) -> None:
    _fill(database)
    with database.engine.begin() as connection:
        connection.execute(update(LOG).where(LOG.c.id == 3).values(allowed=False, reason="edited"))
    breaks = _breaks(database)
    assert [b.entry_id for b in breaks] == [3]
    assert "row was changed" in breaks[0].message


def test_deleted_middle_row_is_detected(database: Database) -> None:
    _fill(database)
    with database.engine.begin() as connection:
        connection.execute(delete(LOG).where(LOG.c.id == 3))
    breaks = _breaks(database)
    assert {b.entry_id for b in breaks} == {4}
    assert any("row 3 is missing" in b.message for b in breaks)


def test_inserted_row_is_detected(database: Database) -> None:
    _fill(database)
    # Forge a row between 2 and 3: move the later rows up one id, then insert a row chained to row 2.
    with database.engine.begin() as connection:
        for entry_id in (5, 4, 3):
            connection.execute(update(LOG).where(LOG.c.id == entry_id).values(id=entry_id + 1))
        forged = AuditEntry(**{**_row_values(connection, 2), "id": 3, "action": "forged"})
        forged.prev_hash = connection.execute(select(LOG.c.row_hash).where(LOG.c.id == 2)).scalar_one()
        forged.row_hash = entry_hash(forged)
        connection.execute(insert(LOG).values(**{c: getattr(forged, c) for c in ["id", *COLUMNS]}))
    broken = _broken_ids(database)
    assert 4 in broken  # the original row 3 no longer matches its hash or its link
    assert 6 in broken  # and the log now runs past the anchor


def _row_values(connection: Connection, entry_id: int) -> dict[str, object]:
    row = connection.execute(select(LOG).where(LOG.c.id == entry_id)).mappings().one()
    return {c: row[c] for c in COLUMNS}


def test_reordered_rows_are_detected(database: Database) -> None:
    _fill(database)
    second, third = _row(database, 2), _row(database, 3)
    with database.engine.begin() as connection:
        connection.execute(update(LOG).where(LOG.c.id == 2).values(row_hash="x" * 64))  # free the unique hash
        connection.execute(update(LOG).where(LOG.c.id == 3).values({c: second[c] for c in COLUMNS}))
        connection.execute(update(LOG).where(LOG.c.id == 2).values({c: third[c] for c in COLUMNS}))
    broken = _broken_ids(database)
    assert {2, 3} <= broken


def test_row_appended_outside_the_station_is_detected(database: Database) -> None:
    _fill(database, 3)
    with database.engine.begin() as connection:
        forged = AuditEntry(**{**_row_values(connection, 3), "id": 4, "action": "forged"})
        forged.prev_hash = connection.execute(select(LOG.c.row_hash).where(LOG.c.id == 3)).scalar_one()
        forged.row_hash = entry_hash(forged)
        connection.execute(insert(LOG).values(**{c: getattr(forged, c) for c in ["id", *COLUMNS]}))
    breaks = _breaks(database)
    assert [b.entry_id for b in breaks] == [4]
    assert "not written through the station" in breaks[0].message
    # The station keeps logging (no id collision) and chains to its anchor, so the forgery stays visible.
    _fill(database, 1)
    breaks = _breaks(database)
    assert [b.entry_id for b in breaks] == [5]
    assert "previous-hash link broken" in breaks[0].message


def test_truncation_of_the_newest_rows_is_detected(database: Database) -> None:
    _fill(database)
    with database.engine.begin() as connection:
        connection.execute(delete(LOG).where(LOG.c.id >= 4))
    breaks = _breaks(database)
    assert len(breaks) == 1
    assert breaks[0].entry_id == 5
    assert "rows 4..5 are missing: the log was truncated" in breaks[0].message


def test_truncation_stays_visible_after_new_appends(database: Database) -> None:
    _fill(database)
    with database.engine.begin() as connection:
        connection.execute(delete(LOG).where(LOG.c.id >= 4))
    _fill(database, 2)
    with database.session() as session:
        ids = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
    assert ids == [1, 2, 3, 6, 7]  # new rows continue after the anchor, not after the survivors
    breaks = _breaks(database)
    assert any(b.entry_id == 6 and "rows 4..5 are missing" in b.message for b in breaks)


def test_deleting_everything_is_detected(database: Database) -> None:
    _fill(database, 2)
    with database.engine.begin() as connection:
        connection.execute(delete(LOG))
    breaks = _breaks(database)
    assert [(b.entry_id, "rows 1..2 are missing" in b.message) for b in breaks] == [(2, True)]


def test_missing_anchor_is_reported(database: Database) -> None:
    _fill(database, 2)
    with database.engine.begin() as connection:
        connection.execute(delete(ANCHOR))
    breaks = _breaks(database)
    assert [b.entry_id for b in breaks] == [2]
    assert "anchor is missing" in breaks[0].message


def test_latest_audit_returns_newest_rows_oldest_first(database: Database) -> None:
    _fill(database)
    with database.session() as session:
        assert [e.id for e in latest_audit(session, limit=3)] == [3, 4, 5]
        assert [e.id for e in latest_audit(session, limit=50)] == [1, 2, 3, 4, 5]
        with pytest.raises(ValueError, match="at least 1"):
            latest_audit(session, limit=0)


@pytest.mark.timeout(120)
def test_concurrent_appends_keep_one_chain(database: Database) -> None:
    threads_n, per_thread = 4, 15
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def _worker(worker: int) -> None:
        try:
            barrier.wait()
            for index in range(per_thread):
                with database.session() as session:
                    append_audit(session, action="live.view", allowed=True, username=f"w{worker}-{index}")
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=_worker, args=(n,), name=f"audit-{n}") for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=100)
    assert not errors, errors
    with database.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        count, breaks = verify_audit_chain(session)
    total = threads_n * per_thread
    assert (count, breaks) == (total, [])
    assert [r.id for r in rows] == list(range(1, total + 1))
    assert len({r.prev_hash for r in rows}) == total  # no two rows chained to the same parent: no fork
    assert len({r.username for r in rows}) == total


@pytest.mark.parametrize(
    ("before", "after", "last_id", "hash_at_anchor", "expected"),
    [
        (None, None, None, None, []),
        (None, None, 3, None, [(3, "anchor is missing")]),
        (Anchor(3, "h3"), Anchor(3, "h3"), 3, "h3", []),
        (Anchor(3, "h3"), Anchor(5, "h5"), 5, "h3", []),  # rows appended while verifying
        (Anchor(3, "h3"), Anchor(3, "h3"), 2, None, [(3, "row 3 is missing: the log was truncated")]),
        (Anchor(3, "h3"), Anchor(3, "h3"), None, None, [(3, "rows 1..3 are missing")]),
        (Anchor(3, "h3"), Anchor(3, "h3"), 3, "other", [(3, "the audit anchor recorded")]),
        (
            Anchor(3, "h3"),
            Anchor(3, "h3"),
            4,
            None,
            [(3, "recorded by the audit anchor is missing"), (4, "not written through the station")],
        ),
        (Anchor(3, "h3"), Anchor(3, "h3"), 4, "h3", [(4, "rows after 3")]),
    ],
)
def test_verify_anchor_decisions(
    before: Anchor | None,
    after: Anchor | None,
    last_id: int | None,
    hash_at_anchor: str | None,
    expected: list[tuple[int, str]],
) -> None:
    breaks = verify_anchor(before=before, after=after, last_id=last_id, hash_at_anchor=hash_at_anchor)
    assert len(breaks) == len(expected)
    for got, (entry_id, fragment) in zip(breaks, expected, strict=True):
        assert got.entry_id == entry_id
        assert fragment in got.message
