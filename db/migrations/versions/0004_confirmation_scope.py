"""what a scheduled delivery's yes is (reminders, sequences); each team's admin approval of a pending
action; the teams whose policy governed an action

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 22:30:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    # Reminders and sequences set up before now carry no recorded yes: each delivery is decided as it comes.
    for table in ('reminders', 'action_sequences'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('approved_by', sa.String(length=32), nullable=True))
    op.create_table('pending_approvals',
    sa.Column('action_id', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('approved_by', sa.String(length=32), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['pending_agent_actions.id'], name=op.f('fk_pending_approvals_action_id_pending_agent_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_pending_approvals_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('action_id', 'team_id', name=op.f('pk_pending_approvals'))
    )
    with op.batch_alter_table('pending_approvals') as batch:
        batch.create_index('ix_pending_approvals_team_open', ['team_id', 'approved_at'], unique=False)
    op.execute(
        "INSERT INTO pending_approvals (action_id, team_id) SELECT id, team_id FROM pending_agent_actions "
        "WHERE requires_admin AND team_id IS NOT NULL"
    )
    op.create_table('action_teams',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('action_id', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_action_teams_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_teams'))
    )
    with op.batch_alter_table('action_teams') as batch:
        batch.create_index(batch.f('ix_action_teams_action_id'), ['action_id'], unique=False)
        batch.create_index('ix_action_teams_team_action', ['team_id', 'action_id'], unique=False)
    _backfill_action_teams()


def _backfill_action_teams() -> None:
    """Actions recorded before now were attributed to one team, the one their history rows name."""
    connection = op.get_bind()
    found = connection.execute(sa.text(
        "SELECT DISTINCT action_id, team_id FROM agent_action_history WHERE team_id IS NOT NULL"
    ))
    insert = sa.text("INSERT INTO action_teams (id, action_id, team_id) VALUES (:id, :action_id, :team_id)")
    while rows := found.fetchmany(BATCH):
        connection.execute(insert, [{"id": uuid.uuid4().hex, "action_id": a, "team_id": t} for a, t in rows])


def downgrade() -> None:
    with op.batch_alter_table('action_teams') as batch:
        batch.drop_index('ix_action_teams_team_action')
        batch.drop_index(batch.f('ix_action_teams_action_id'))
    op.drop_table('action_teams')
    with op.batch_alter_table('pending_approvals') as batch:
        batch.drop_index('ix_pending_approvals_team_open')
    op.drop_table('pending_approvals')
    for table in ('action_sequences', 'reminders'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('approved_by')
