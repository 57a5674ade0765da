"""One contact per email address and person: a unique index on contacts (user_id, lower(email))

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'uq_contacts_user_id_email', 'contacts', ['user_id', sa.text('lower(email)')], unique=True,
    )


def downgrade() -> None:
    op.drop_index('uq_contacts_user_id_email', table_name='contacts')
