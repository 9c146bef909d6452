"""officers, their leave, and booked calls (double booking refused by a partial unique index)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 08:14:11.257957
"""
from alembic import op
import sqlalchemy as sa



revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('officers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('sex', sa.String(length=6), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('ethnic_origin', sa.String(length=10), nullable=True),
    sa.Column('team', sa.String(length=80), nullable=True),
    sa.Column('area', sa.String(length=80), nullable=True),
    sa.Column('working_pattern', sa.JSON(), nullable=False),
    sa.Column('on_call', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('contact', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("ethnic_origin IS NULL OR ethnic_origin IN ('asian', 'black', 'mixed', 'white', 'other')", name='ck_officer_ethnic_origin'),
    sa.CheckConstraint("sex IS NULL OR sex IN ('female', 'male')", name='ck_officer_sex'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('contact_method', sa.String(length=10), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('voicemail_ok', sa.Boolean(), nullable=False),
    sa.Column('reminders_ok', sa.Boolean(), nullable=False),
    sa.Column('update_frequency', sa.String(length=12), nullable=False),
    sa.Column('officer_sex_requested', sa.String(length=6), nullable=True),
    sa.Column('ethnic_origin_requested', sa.String(length=10), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('interpreter', sa.String(length=5), nullable=True),
    sa.Column('secret_hash', sa.String(length=200), nullable=True),
    sa.Column('failed_checks', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("contact_method IS NULL OR contact_method IN ('phone', 'video', 'in_person', 'sms')", name='ck_booking_contact_method'),
    sa.CheckConstraint("ethnic_origin_requested IS NULL OR ethnic_origin_requested IN ('asian', 'black', 'mixed', 'white', 'other')", name='ck_booking_ethnic_origin_requested'),
    sa.CheckConstraint("officer_sex_requested IS NULL OR officer_sex_requested IN ('female', 'male')", name='ck_booking_sex_requested'),
    sa.CheckConstraint("status IS NULL OR status IN ('booked', 'cancelled')", name='ck_booking_status'),
    sa.CheckConstraint("update_frequency IS NULL OR update_frequency IN ('weekly', 'fortnightly', 'on_change')", name='ck_booking_update_frequency'),
    sa.CheckConstraint('ends_at > starts_at', name='ck_booking_order'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference')
    )
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bookings_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bookings_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bookings_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index('uq_booking_officer_slot', ['officer_id', 'starts_at'], unique=True, postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'"))

    op.create_table('officer_leave',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name='ck_officer_leave_order'),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('officer_leave', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_officer_leave_officer_id'), ['officer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('officer_leave', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_officer_leave_officer_id'))

    op.drop_table('officer_leave')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('uq_booking_officer_slot', postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'"))
        batch_op.drop_index(batch_op.f('ix_bookings_starts_at'))
        batch_op.drop_index(batch_op.f('ix_bookings_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_bookings_case_id'))

    op.drop_table('bookings')
    op.drop_table('officers')
