"""token revocation: why a token was revoked; tokens that outlived a reset or a disable revoked; expiry

Revision ID: 0002
Revises: 0001

Before this revision a password reset left the user's API tokens working and a disable only hid them until
the user was enabled again (issue 26, finding 2). Upgrading applies today's rule to what is stored:

- ``api_tokens.revoked_reason`` is added (``revoked``, ``password_reset``, ``user_disabled``);
- a token of a disabled user is revoked (``user_disabled``), so enabling the user brings it back no more;
- a token made before its user's last password change is revoked (``password_reset``): it survived a reset;
- a live token without an expiry expires 90 days after the upgrade (the default lifetime of a new token).

The downgrade drops the column; revocations and expiries stay.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

DEFAULT_TOKEN_DAYS = 90  # console.account.DEFAULT_TOKEN_DAYS when this revision was written

_users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("disabled", sa.Boolean()),
    sa.column("password_changed_at", sa.DateTime(timezone=True)),
)
_tokens = sa.table(
    "api_tokens",
    sa.column("user_id", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("revoked_at", sa.DateTime(timezone=True)),
    sa.column("revoked_reason", sa.String(32)),
)


def _stored(moment: datetime) -> datetime:
    """A UTC time as storage.model.UTCDateTime stores it: naive on SQLite (compared as text there)."""
    return moment.replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else moment


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_reason", sa.String(length=32), nullable=True))

    now = datetime.now(UTC)
    live = _tokens.c.revoked_at.is_(None)
    owner = _users.c.id == _tokens.c.user_id
    disabled_owner = sa.exists().where(owner, _users.c.disabled.is_(sa.true()))
    reset_since = sa.exists().where(owner, _users.c.password_changed_at > _tokens.c.created_at)
    for reason, condition in (("user_disabled", disabled_owner), ("password_reset", reset_since)):
        op.execute(
            _tokens.update().where(live, condition).values(revoked_at=_stored(now), revoked_reason=reason)
        )
    op.execute(
        _tokens.update()
        .where(live, _tokens.c.expires_at.is_(None))
        .values(expires_at=_stored(now + timedelta(days=DEFAULT_TOKEN_DAYS)))
    )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_reason")
