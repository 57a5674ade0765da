"""working days for "only schedule during working hours"; day, time and channel of proactive outreach

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


# Existing rows get what the behaviour was before these settings existed: working hours on every day, and
# outreach by SMS on Wednesdays at 10:00. The defaults then live in the model.
NEW_COLUMNS = (
    sa.Column('working_days', sa.JSON(), nullable=False, server_default=EVERY_DAY),
    sa.Column('proactive_outreach_day_of_week', sa.Integer(), nullable=False, server_default=sa.text('2')),
    sa.Column('proactive_outreach_time', sa.String(length=5), nullable=False, server_default='10:00'),
    sa.Column('proactive_outreach_channel', sa.String(length=8), nullable=False, server_default='sms'),
)


def upgrade() -> None:
    with op.batch_alter_table('user_agent_settings') as batch:
        for column in NEW_COLUMNS:
            batch.add_column(column)
    with op.batch_alter_table('user_agent_settings') as batch:
        for column in NEW_COLUMNS:
            batch.alter_column(column.name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('user_agent_settings') as batch:
        for column in reversed(NEW_COLUMNS):
            batch.drop_column(column.name)
