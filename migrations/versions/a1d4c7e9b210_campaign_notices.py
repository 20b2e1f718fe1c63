"""Campaign notices: a dated line on a live campaign's page when its target or deadline changes

Revision ID: a1d4c7e9b210
Revises: 6713cf0f564d
Create Date: 2026-12-05 16:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1d4c7e9b210'
down_revision = '6713cf0f564d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('campaign_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('target', 'deadline', name='notice_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_campaign_notice_author_id_user_account')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_notice_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_notice'))
    )
    with op.batch_alter_table('campaign_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_notice_campaign_id'), ['campaign_id'], unique=False)


def downgrade():
    with op.batch_alter_table('campaign_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_notice_campaign_id'))
    op.drop_table('campaign_notice')
