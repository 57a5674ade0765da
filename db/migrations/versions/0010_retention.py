"""Team analytics and retention: a team's retention period; when each team's action was requested; indexes for
time ranges (summary, audit export, purge) and for the purge's foreign-key lookups

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Existing links take the time of their action's first step; a link without any step (none is written so)
# takes the migration's time, which only delays its purge.
FIRST_STEP = sa.text(
    "UPDATE action_teams SET requested_at = COALESCE("
    "(SELECT min(h.created_at) FROM agent_action_history h WHERE h.action_id = action_teams.action_id),"
    " CURRENT_TIMESTAMP)"
)


def upgrade() -> None:
    with op.batch_alter_table('team_ai_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_days', sa.Integer(), nullable=False, server_default='400'))
    with op.batch_alter_table('action_teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(FIRST_STEP)
    with op.batch_alter_table('action_teams', schema=None) as batch_op:
        batch_op.alter_column('requested_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index('ix_action_teams_team_requested', ['team_id', 'requested_at', 'action_id'], unique=False)
    with op.batch_alter_table('agent_action_history', schema=None) as batch_op:
        batch_op.create_index('ix_agent_action_history_created', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('agent_execution_traces', schema=None) as batch_op:
        batch_op.create_index('ix_agent_execution_traces_created', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('agent_action_feedback', schema=None) as batch_op:
        batch_op.create_index('ix_agent_action_feedback_created', ['created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_agent_action_feedback_history_id'), ['history_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('agent_action_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_action_feedback_history_id'))
        batch_op.drop_index('ix_agent_action_feedback_created')
    with op.batch_alter_table('agent_execution_traces', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_execution_traces_created')
    with op.batch_alter_table('agent_action_history', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_action_history_created')
    with op.batch_alter_table('action_teams', schema=None) as batch_op:
        batch_op.drop_index('ix_action_teams_team_requested')
        batch_op.drop_column('requested_at')
    with op.batch_alter_table('team_ai_settings', schema=None) as batch_op:
        batch_op.drop_column('retention_days')
