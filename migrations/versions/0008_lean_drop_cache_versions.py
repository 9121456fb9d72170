"""drop cache versions: pages are rendered afresh, no cache is kept under data versions

Revision ID: 0008_lean
Revises: 0007_mail

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008_lean"
down_revision = "0007_mail"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("cache_versions")


def downgrade():
    op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )
    op.execute("INSERT INTO cache_versions (name, version) VALUES ('catalogue', 0)")
