"""complaint stills: still frames of recorded footage attached to a complaint, with their SHA-256

Revision ID: 0004
Revises: 0003

Issue 25 (player): a still of the frame on screen is extracted on the station from the recorded segment at
the exact instant, stored as a JPEG outside the recordings tree and listed on the complaint with its hash.
The downgrade drops the table (the JPEG files stay on disk).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "complaint_stills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=32), nullable=False),
        sa.Column("requested_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frame_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=True),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["added_by"], ["users.id"], name=op.f("fk_complaint_stills_added_by_users")),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_complaint_stills_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_complaint_stills_complaint_id_complaints")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_stills")),
    )
    with op.batch_alter_table("complaint_stills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_stills_complaint_id"), ["complaint_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("complaint_stills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_stills_complaint_id"))
    op.drop_table("complaint_stills")
