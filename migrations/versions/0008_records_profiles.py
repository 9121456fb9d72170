"""student records: unit parents, profile fields, registrar-owned fields, language certificates, the
profile snapshot of an application at submission

Revision ID: 0008_records
Revises: 0007_mail
Create Date: 2026-11-30 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_records'
down_revision = '0007_mail'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_units_parent_id_units'), 'units', ['parent_id'], ['id'])

    with op.batch_alter_table('student_profiles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('year_of_study', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('emergency_contact', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('emergency_phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('nationality', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('date_of_birth', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('registrar_fields', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('roster_imported_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('language_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certificate_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('certificate_stored_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('certificate_type', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('certificate_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('certificate_sha256', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_language_results_certificate_stored_name'), ['certificate_stored_name'])

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('profile_snapshot', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_column('profile_snapshot')

    with op.batch_alter_table('language_results', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_language_results_certificate_stored_name'), type_='unique')
        for name in ('certificate_sha256', 'certificate_size', 'certificate_type', 'certificate_stored_name', 'certificate_name'):
            batch_op.drop_column(name)

    with op.batch_alter_table('student_profiles', schema=None) as batch_op:
        for name in ('updated_at', 'roster_imported_at', 'registrar_fields', 'date_of_birth', 'nationality', 'emergency_phone', 'emergency_contact', 'phone', 'year_of_study'):
            batch_op.drop_column(name)

    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_units_parent_id_units'), type_='foreign_key')
        batch_op.drop_column('parent_id')
