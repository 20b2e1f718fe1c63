"""The UK council register: register code, short name, nation, region, county, and when a council ended

Revision ID: b7e2f0c4d915
Revises: a1d4c7e9b210
Create Date: 2026-12-05 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2f0c4d915'
down_revision = 'a1d4c7e9b210'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('register_code', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('short_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('nation', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('region', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('county', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('ended_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('replaced_by', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_organisation_register_code'), ['register_code'])


def downgrade():
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_organisation_register_code'), type_='unique')
        batch_op.drop_column('replaced_by')
        batch_op.drop_column('ended_on')
        batch_op.drop_column('county')
        batch_op.drop_column('region')
        batch_op.drop_column('nation')
        batch_op.drop_column('short_name')
        batch_op.drop_column('register_code')
