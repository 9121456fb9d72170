"""outbox mails: Message-ID fixed at enqueue (unique, never empty), possibly delivered attempts

Revision ID: 0007_mail
Revises: 0006
Create Date: 2026-11-30 08:00:00

"""
from email.utils import make_msgid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_mail'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # Mails queued before this revision got their Message-ID only once sent; the others get
    # one now, so that their next attempts all carry the same.
    conn = op.get_bind()
    mails = sa.table('outbox_mails', sa.column('id', sa.Integer), sa.column('message_id', sa.String))
    ids = conn.execute(sa.select(mails.c.id).where(mails.c.message_id.is_(None))).scalars().all()
    for mail_id in ids:
        conn.execute(
            mails.update()
            .where(mails.c.id == mail_id)
            .values(message_id=make_msgid(domain='exchange.local'))
        )
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('possibly_delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('message_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('message_id', existing_type=sa.String(length=255), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_outbox_mails_message_id'), ['message_id'])


def downgrade():
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_outbox_mails_message_id'), type_='unique')
        batch_op.alter_column('message_id', existing_type=sa.String(length=255), nullable=True)
        batch_op.drop_column('message_started_at')
        batch_op.drop_column('possibly_delivered_at')
