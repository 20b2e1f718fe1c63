"""Payment events: one typed outcome row for every settled payment outcome

Revision ID: c3a9e1f7b2d4
Revises: b7e2f0c4d915
Create Date: 2026-12-05 22:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a9e1f7b2d4'
down_revision = 'b7e2f0c4d915'
branch_labels = None
depends_on = None

SOURCES = ('browser', 'webhook', 'reconcile', 'bank_transfer', 'refund')
OUTCOMES = (
    'succeeded', 'failed', 'abandoned', 'requires_action', 'refunded', 'card_saved',
    'amount_mismatch', 'currency_mismatch', 'unknown_payment', 'out_of_order', 'duplicate',
)


def upgrade():
    op.create_table(
        'payment_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.Enum(*SOURCES, name='payment_event_source', native_enum=False, create_constraint=True, length=32), nullable=False),
        sa.Column('outcome', sa.Enum(*OUTCOMES, name='payment_event_outcome', native_enum=False, create_constraint=True, length=32), nullable=False),
        sa.Column('amount_pence', sa.Integer(), nullable=True),
        sa.Column('reference', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.CheckConstraint('amount_pence IS NULL OR amount_pence > 0', name=op.f('ck_payment_event_amount_positive')),
        sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_payment_event_payment_id_payment')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_event')),
    )
    op.create_index('ix_payment_event_payment', 'payment_event', ['payment_id'], unique=False)


def downgrade():
    op.drop_index('ix_payment_event_payment', table_name='payment_event')
    op.drop_table('payment_event')
