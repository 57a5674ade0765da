"""Model usage: conversations (calls, browser, chat, scheduler runs), their teams and actions, and one
row per model turn with its token counts as reported

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 00:36:02.177217
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_actions',
    sa.Column('action_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('action_id', name=op.f('pk_conversation_actions'))
    )
    with op.batch_alter_table('conversation_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_actions_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('conversation_teams',
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_conversation_teams_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', 'team_id', name=op.f('pk_conversation_teams'))
    )
    with op.batch_alter_table('conversation_teams', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_teams_team_started', ['team_id', 'started_at', 'conversation_id'], unique=False)

    op.create_table('conversations',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_conversations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_user_id'), ['user_id'], unique=False)

    op.create_table('model_turns',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('thoughts_tokens', sa.Integer(), nullable=True),
    sa.Column('cached_tokens', sa.Integer(), nullable=True),
    sa.Column('input_text_tokens', sa.Integer(), nullable=True),
    sa.Column('input_audio_tokens', sa.Integer(), nullable=True),
    sa.Column('input_image_tokens', sa.Integer(), nullable=True),
    sa.Column('input_video_tokens', sa.Integer(), nullable=True),
    sa.Column('input_document_tokens', sa.Integer(), nullable=True),
    sa.Column('output_text_tokens', sa.Integer(), nullable=True),
    sa.Column('output_audio_tokens', sa.Integer(), nullable=True),
    sa.Column('output_image_tokens', sa.Integer(), nullable=True),
    sa.Column('output_video_tokens', sa.Integer(), nullable=True),
    sa.Column('output_document_tokens', sa.Integer(), nullable=True),
    sa.Column('reported', sa.JSON(), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_model_turns_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_turns'))
    )
    with op.batch_alter_table('model_turns', schema=None) as batch_op:
        batch_op.create_index('ix_model_turns_conversation_started', ['conversation_id', 'started_at'], unique=False)
        batch_op.create_index('ix_model_turns_user_started', ['user_id', 'started_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('model_turns', schema=None) as batch_op:
        batch_op.drop_index('ix_model_turns_user_started')
        batch_op.drop_index('ix_model_turns_conversation_started')

    op.drop_table('model_turns')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_user_id'))

    op.drop_table('conversations')
    with op.batch_alter_table('conversation_teams', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_teams_team_started')

    op.drop_table('conversation_teams')
    with op.batch_alter_table('conversation_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_actions_conversation_id'))

    op.drop_table('conversation_actions')
