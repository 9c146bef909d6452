"""cases: area (postcode district) for monitoring, anonymised_at for retention, the action plan

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 15:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('area', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('plan_method', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('plan_frequency', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('plan_agreed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('plan_agreed_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('last_contact_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_cases_status_submitted', ['status', 'submitted_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_submitted')
        for column in ('last_contact_at', 'plan_agreed_by', 'plan_agreed_at', 'plan_frequency', 'plan_method', 'anonymised_at', 'area'):
            batch_op.drop_column(column)
