"""grading and plans: runs, distinct outcomes, per-subject results, plans; check items get a joint-visit group

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('check_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('joint_group', sa.String(length=32), nullable=True))
    op.create_table(
        'grade_run',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('pack_name', sa.String(length=80), nullable=False),
        sa.Column('pack_version', sa.String(length=40), nullable=False),
        sa.Column('pack_hash', sa.String(length=64), nullable=False),
        sa.Column('engine_version', sa.String(length=40), nullable=False),
        sa.Column('subjects', sa.Integer(), nullable=False),
        sa.Column('outcomes', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'grade_outcome',
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('outcome', sa.Integer(), nullable=False),
        sa.Column('outputs', sa.JSON(), nullable=False),
        sa.Column('fired', sa.JSON(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('run_id', 'outcome'),
    )
    op.create_table(
        'grade_result',
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('outcome', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('run_id', 'uscc'),
    )
    op.create_table(
        'plan',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('regions', sa.String(length=200), nullable=False),
        sa.Column('period', sa.String(length=40), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('seed', sa.String(length=200), nullable=False),
        sa.Column('grade_run_id', sa.String(length=40), nullable=False),
        sa.Column('pack_hash', sa.String(length=64), nullable=False),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('document', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('plan')
    op.drop_table('grade_result')
    op.drop_table('grade_outcome')
    op.drop_table('grade_run')
    with op.batch_alter_table('check_item', schema=None) as batch_op:
        batch_op.drop_column('joint_group')
