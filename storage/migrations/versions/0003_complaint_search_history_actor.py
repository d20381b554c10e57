"""complaint search text and history actor: free-text search that folds Cyrillic; history keeps who acted

Revision ID: 0003
Revises: 0002

Issue 25 (defect 3, 5) and issue 26 (finding 7):

- ``complaints.search_public`` (number and description) and ``complaints.search_personal`` (reporter name
  and contact, plus the contact's digits) hold casefolded text for the list's free-text search: SQLite's
  ``lower()`` folds ASCII only, so "АЙГУЛЬ" would not find "Айгуль" there;
- ``complaint_history.actor_name`` is the acting user's name as it was at the time (a later rename does not
  rewrite history); ``complaint_history.detail`` holds the structured part of an entry (changed fields,
  assignee, outcome, attached range) so pages translate it instead of showing raw values.

Upgrading fills the search text of every complaint and the actor name of every history row from today's
user names (the best that is known), and turns the raw notes 0002-era code wrote (``assignee: user 1``,
``outcome: warning_given. note``, ``changed: category. note``, ``cam 2026-...+00:00 .. 2026-...+00:00``)
into ``detail`` plus the note a person wrote (:func:`plan_history_row`). The downgrade drops the columns.
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_complaints = sa.table(
    "complaints",
    sa.column("id", sa.Integer()),
    sa.column("number", sa.String(32)),
    sa.column("description", sa.Text()),
    sa.column("reporter_name", sa.String(200)),
    sa.column("reporter_contact", sa.String(200)),
    sa.column("search_public", sa.Text()),
    sa.column("search_personal", sa.Text()),
)
_history = sa.table(
    "complaint_history",
    sa.column("id", sa.Integer()),
    sa.column("user_id", sa.Integer()),
    sa.column("action", sa.String(32)),
    sa.column("note", sa.Text()),
    sa.column("actor_name", sa.String(120)),
    sa.column("detail", sa.Text()),
)
_users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("username", sa.String(64)),
    sa.column("display_name", sa.String(120)),
)


def _fold(*parts: str | None) -> str:
    """storage.complaint.search_text when this revision was written."""
    return " ".join(" ".join(p.split()).casefold() for p in parts if p and p.strip())


def _digits(value: str | None) -> str:
    return "".join(c for c in value or "" if c.isdigit())


_ASSIGNEE = re.compile(r"assignee: user (\d+)")
_OUTCOME = re.compile(r"outcome: (\w+)(?:\. (.*))?", re.DOTALL)
_CHANGED = re.compile(r"changed: ([\w, ]+?)(?:\. (.*))?", re.DOTALL)
_RANGE = re.compile(r"(\S+) (\S+) \.\. (\S+)")


def plan_history_row(
    action: str, note: str | None, names: dict[int, str]
) -> tuple[str | None, dict[str, Any] | None] | None:
    """(note, detail) for a history row written before ``detail`` existed; None to leave it (pure)."""
    text = note or ""
    if action == "assigned":
        if text == "assignee removed":
            return None, {"assignee_id": None, "assignee": None}
        if m := _ASSIGNEE.fullmatch(text):
            uid = int(m.group(1))
            return None, {"assignee_id": uid, "assignee": names.get(uid)}
    elif action == "status" and (m := _OUTCOME.fullmatch(text)):
        return m.group(2) or None, {"outcome": m.group(1)}
    elif action == "updated" and (m := _CHANGED.fullmatch(text)):
        return m.group(2) or None, {"fields": [f.strip() for f in m.group(1).split(",")]}
    elif action in ("evidence_attached", "evidence_detached") and (m := _RANGE.fullmatch(text)):
        return None, {"camera": m.group(1), "start": m.group(2), "end": m.group(3)}
    return None


def _rewrite_history(bind: sa.Connection, names: dict[int, str]) -> None:
    rows = bind.execute(
        sa.select(_history.c.id, _history.c.action, _history.c.note).where(_history.c.detail.is_(None))
    ).all()
    for hid, action, note in rows:
        planned = plan_history_row(action, note, names)
        if planned is not None:
            detail = json.dumps(planned[1], sort_keys=True, ensure_ascii=False)
            bind.execute(_history.update().where(_history.c.id == hid).values(note=planned[0], detail=detail))


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_public", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("search_personal", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("complaint_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_name", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.Text(), nullable=True))

    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            _complaints.c.id,
            _complaints.c.number,
            _complaints.c.description,
            _complaints.c.reporter_name,
            _complaints.c.reporter_contact,
        )
    ).all()
    for cid, number, description, name, contact in rows:
        bind.execute(
            _complaints.update()
            .where(_complaints.c.id == cid)
            .values(
                search_public=_fold(number, description),
                search_personal=_fold(name, contact, _digits(contact)),
            )
        )
    names: dict[int, str] = {}
    for uid, username, display in bind.execute(
        sa.select(_users.c.id, _users.c.username, _users.c.display_name)
    ).all():
        names[uid] = display or username
        bind.execute(_history.update().where(_history.c.user_id == uid).values(actor_name=names[uid]))
    _rewrite_history(bind, names)


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy of ``complaints`` would drop
    # a table other tables reference, which SQLite refuses with foreign keys on.
    for table, column in (
        ("complaint_history", "detail"),
        ("complaint_history", "actor_name"),
        ("complaints", "search_personal"),
        ("complaints", "search_public"),
    ):
        op.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
