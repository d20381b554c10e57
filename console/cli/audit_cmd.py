"""``station audit verify`` and ``station audit tail``: the hash-chained audit log."""

from __future__ import annotations

import argparse
import json
from typing import Any

from console.cli.common import EXIT_FAILURE, add_config_argument, database_errors, open_database
from storage.audit import check_audit_chain, latest_audit, read_anchor
from storage.model import AuditEntry


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="check the hash chain and its anchor; exit 1 naming every broken row",
        description="Recompute every row's hash, check the links and the anchor (truncation). "
        "Exit 0 when the log is intact, 1 when it is not.",
    )
    add_config_argument(verify)
    verify.set_defaults(func=_verify)
    tail = audit_sub.add_parser("tail", help="print the newest audit rows (oldest first)")
    add_config_argument(tail)
    tail.add_argument("-n", "--lines", type=_positive, default=20, metavar="N", help="rows (default 20)")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.set_defaults(func=_tail)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


@database_errors
def _verify(args: argparse.Namespace) -> int:
    _settings, database = open_database(args, migrate=False)
    try:
        with database.session() as session:
            report = check_audit_chain(session)
            anchor = read_anchor(session)
    finally:
        database.dispose()
    anchored = f", anchor at row {anchor.last_id}" if anchor is not None else ""
    if report.ok:
        print(f"audit log intact: {report.rows} rows{anchored}")
        return 0
    broken = sorted({b.entry_id for b in report.breaks})
    count = len(report.breaks)
    print(f"audit log BROKEN: {report.rows} rows{anchored}; {count} problems at rows {_ids(broken)}")
    for item in report.breaks:
        print(f"  {item}")
    return EXIT_FAILURE


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:20])
    return shown + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")


def entry_record(entry: AuditEntry) -> dict[str, Any]:
    """A row as plain data (for --json and for the tests)."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "user": entry.username,
        "user_id": entry.user_id,
        "source": entry.source,
        "action": entry.action,
        "resource": f"{entry.resource_type}:{entry.resource_id}" if entry.resource_type else None,
        "allowed": entry.allowed,
        "reason": entry.reason,
        "detail": json.loads(entry.detail) if entry.detail else None,
    }


def format_entry(entry: AuditEntry) -> str:
    record = entry_record(entry)
    parts = [
        f"{record['id']:>6}",
        record["at"],
        record["user"] or "-",
        record["source"] or "-",
        record["action"],
        record["resource"] or "-",
        "allowed" if entry.allowed else "DENIED",
    ]
    if entry.reason:
        parts.append(f"reason={entry.reason!r}")
    return "  ".join(parts)


@database_errors
def _tail(args: argparse.Namespace) -> int:
    _settings, database = open_database(args, migrate=False)
    try:
        with database.session() as session:
            entries = latest_audit(session, limit=args.lines)
    finally:
        database.dispose()
    for entry in entries:
        print(json.dumps(entry_record(entry), ensure_ascii=False) if args.json else format_entry(entry))
    if not entries and not args.json:
        print("audit log is empty")
    return 0
