"""A rejected action's reason as a code (wrong_recipient, wrong_time, wrong_content, not_now, other), so the
feedback analytics can count rejections by reason; the person's own words stay in `comment`

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agent_action_feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_code', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_agent_action_feedback_reason_code'), ['reason_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('agent_action_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_action_feedback_reason_code'))
        batch_op.drop_column('reason_code')
