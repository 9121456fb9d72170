"""drop cache versions: pages are rendered afresh, no cache is kept under data versions;
and the index that served the freshness token of the office list's cached counts; an index
of users by name for the approval queue sorted by name

Revision ID: 0010_lean
Revises: 0009_loose

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010_lean"
down_revision = "0009_loose"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("cache_versions")
    op.drop_index("ix_applications_call_updated", table_name="applications")
    op.create_index("ix_users_name", "users", ["name", "id"], unique=False)


def downgrade():
    op.drop_index("ix_users_name", table_name="users")
    op.create_index(
        "ix_applications_call_updated", "applications", ["call_id", "updated_at"], unique=False
    )
    op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_versions")),
    )
    op.execute("INSERT INTO cache_versions (name, version) VALUES ('catalogue', 0)")
