"""OAuth flows bound to the browser that started them; a media stream token opens one stream

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Flows in progress carry no browser binding; they live ten minutes, and their users start again.
    op.execute(sa.text('DELETE FROM oauth_states'))
    with op.batch_alter_table('oauth_states') as batch:
        batch.add_column(sa.Column('browser_digest', sa.String(length=64), nullable=False))
    with op.batch_alter_table('call_sessions') as batch:
        batch.add_column(sa.Column('stream_opened_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('call_sessions') as batch:
        batch.drop_column('stream_opened_at')
    with op.batch_alter_table('oauth_states') as batch:
        batch.drop_column('browser_digest')
