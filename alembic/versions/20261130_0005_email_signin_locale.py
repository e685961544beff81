"""Email sign-in and languages: users' `locale` and `signup_language`, and the emailed
code of a magic link (`code_hash`, `attempts`) on one-time tokens.

The new token purpose `magic_link` needs no change: the purpose column is a plain
string without a constraint on its values.

Revision ID: 0005
Revises: 0007
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("signup_language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("one_time_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("one_time_tokens", schema=None) as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("code_hash")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("signup_language")
        batch_op.drop_column("locale")
