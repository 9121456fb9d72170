"""cache versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:10:52.679901

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )
    # The row exists from the start, so that writers only ever UPDATE it.
    op.execute("INSERT INTO cache_versions (name, version) VALUES ('catalogue', 0)")


def downgrade():
    op.drop_table("cache_versions")
