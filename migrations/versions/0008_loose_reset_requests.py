"""password reset requests kept until the worker answers them

Revision ID: 0008_loose
Revises: 0007_mail
Create Date: 2026-11-30 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_loose'
down_revision = '0007_mail'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'password_reset_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_requests')),
    )


def downgrade():
    op.drop_table('password_reset_requests')
