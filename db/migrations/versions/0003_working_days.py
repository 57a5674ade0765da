"""working days for "only schedule during working hours"

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

EVERY_DAY = sa.text("'[0, 1, 2, 3, 4, 5, 6]'")


def upgrade() -> None:
    # Existing rows get every day (what working hours meant before); the default then lives in the model.
    with op.batch_alter_table('user_agent_settings') as batch:
        batch.add_column(sa.Column('working_days', sa.JSON(), nullable=False, server_default=EVERY_DAY))
    with op.batch_alter_table('user_agent_settings') as batch:
        batch.alter_column('working_days', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('user_agent_settings') as batch:
        batch.drop_column('working_days')
