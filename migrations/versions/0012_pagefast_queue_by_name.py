"""the approval queue sorted by name on index-only steps: a student's applications with
their ids, and a small index of the waiting steps by application

Revision ID: 0012_pagefast
Revises: 0011_selection

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_pagefast"
down_revision = "0011_selection"
branch_labels = None
depends_on = None

WAITING = sa.text("status = 'waiting'")


def upgrade():
    op.drop_index("ix_applications_student", table_name="applications")
    op.create_index("ix_applications_student", "applications", ["student_id", "created_at", "id"])
    op.create_index(
        "ix_application_steps_waiting_application",
        "application_steps",
        ["application_id", "rule", "id"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )


def downgrade():
    op.drop_index("ix_application_steps_waiting_application", table_name="application_steps")
    op.drop_index("ix_applications_student", table_name="applications")
    op.create_index("ix_applications_student", "applications", ["student_id", "created_at"])
