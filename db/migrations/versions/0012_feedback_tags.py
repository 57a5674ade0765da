"""History: reason tags on feedback; an action is undone at most once (a unique partial index); a person's
history is indexed in its keyset order (user_id, created_at, id), replacing (user_id, created_at)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

UNDONE = sa.text("status = 'undone'")


def upgrade() -> None:
    with op.batch_alter_table('agent_action_feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table('agent_action_history', schema=None) as batch_op:
        batch_op.create_index(
            'uq_agent_action_history_undone', ['action_id'], unique=True, sqlite_where=UNDONE, postgresql_where=UNDONE
        )
        batch_op.create_index('ix_agent_action_history_user_created_id', ['user_id', 'created_at', 'id'], unique=False)
        batch_op.drop_index('ix_agent_action_history_user_created')


def downgrade() -> None:
    with op.batch_alter_table('agent_action_history', schema=None) as batch_op:
        batch_op.create_index('ix_agent_action_history_user_created', ['user_id', 'created_at'], unique=False)
        batch_op.drop_index('ix_agent_action_history_user_created_id')
        batch_op.drop_index('uq_agent_action_history_undone', sqlite_where=UNDONE, postgresql_where=UNDONE)
    with op.batch_alter_table('agent_action_feedback', schema=None) as batch_op:
        batch_op.drop_column('tags')
