"""equipment status (在用/停用/报废), what a complaint concerns, annual reports, a check item's 实施层级 (issue 12)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows are units in use: the register held no other status before this revision.
    with op.batch_alter_table('equipment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=12), nullable=False, server_default='in_use'))
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('domain', sa.String(length=24), nullable=True))
    with op.batch_alter_table('check_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('level', sa.String(length=12), nullable=True))
    op.create_table(
        'annual_report',
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('filed_on', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('uscc', 'year'),
    )


def downgrade() -> None:
    op.drop_table('annual_report')
    with op.batch_alter_table('check_item', schema=None) as batch_op:
        batch_op.drop_column('level')
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_column('domain')
    with op.batch_alter_table('equipment', schema=None) as batch_op:
        batch_op.drop_column('status')
