"""Team analytics and retention: a team's retention period; action_teams becomes the team's roll-up of each
action (when requested, who, which tool, which kinds of step, last denial's code; one row per action and
team); indexes for time ranges (summary, audit export, purge) and for the purge's foreign-key lookups

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

STEP_BITS = {
    "proposed": 1, "confirmed": 2, "executed": 4, "failed": 8, "denied": 16, "cancelled": 32, "expired": 64, "undone": 128,
}  # db.models.ACTION_STEP_BITS as of this revision
_BIT = "CASE h.status " + " ".join(f"WHEN '{status}' THEN {bit}" for status, bit in STEP_BITS.items()) + " ELSE 0 END"
_OF_ACTION = "FROM agent_action_history h WHERE h.action_id = action_teams.action_id"
# Existing links are rolled up from their action's steps (the sum of the distinct bits is their OR, on both
# databases); a link without any step (none is written so) takes the migration's time, which only delays
# its purge.
ROLL_UP = sa.text(
    "UPDATE action_teams SET"
    f" requested_at = COALESCE((SELECT min(h.created_at) {_OF_ACTION}), CURRENT_TIMESTAMP),"
    f" user_id = COALESCE((SELECT min(h.user_id) {_OF_ACTION}), ''),"
    f" tool = COALESCE((SELECT min(h.tool) {_OF_ACTION}), ''),"
    f" steps = COALESCE((SELECT SUM(DISTINCT {_BIT}) {_OF_ACTION}), 0),"
    f" denied_code = (SELECT max(h.error_code) {_OF_ACTION} AND h.status = 'denied')"
)
# A retried action linked its teams again: keep one link per action and team.
ONE_LINK = sa.text(
    "DELETE FROM action_teams WHERE EXISTS (SELECT 1 FROM action_teams b WHERE b.action_id = action_teams.action_id"
    " AND b.team_id = action_teams.team_id AND b.id < action_teams.id)"
)


def upgrade() -> None:
    with op.batch_alter_table('team_ai_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_days', sa.Integer(), nullable=False, server_default='400'))
    with op.batch_alter_table('action_teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('user_id', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('tool', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('steps', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('denied_code', sa.String(length=32), nullable=True))
    op.execute(ROLL_UP)
    op.execute(ONE_LINK)
    with op.batch_alter_table('action_teams', schema=None) as batch_op:
        batch_op.alter_column('requested_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index('ix_action_teams_team_requested', ['team_id', 'requested_at'], unique=False)
        batch_op.create_index('uq_action_teams_action_team', ['action_id', 'team_id'], unique=True)
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
        batch_op.drop_index('uq_action_teams_action_team')
        batch_op.drop_index('ix_action_teams_team_requested')
        for column in ('denied_code', 'steps', 'tool', 'user_id', 'requested_at'):
            batch_op.drop_column(column)
    with op.batch_alter_table('team_ai_settings', schema=None) as batch_op:
        batch_op.drop_column('retention_days')
