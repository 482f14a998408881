"""identity: email sign-in links

Revision ID: identity_0001
Revises: 0001_foundation
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import adapters.sql.schema


revision = 'identity_0001'
down_revision = '0001_foundation'
branch_labels = ('identity',)
depends_on = None


def upgrade() -> None:
    op.create_table('login_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('expires_at', adapters.sql.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', adapters.sql.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('used_at', adapters.sql.schema.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_login_links'))
    )
    with op.batch_alter_table('login_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_links_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_links_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_links_user_id'))
        batch_op.drop_index(batch_op.f('ix_login_links_expires_at'))

    op.drop_table('login_links')
