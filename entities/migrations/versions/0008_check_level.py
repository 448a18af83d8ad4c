"""check_result.level: which level of market supervision made a past check (令49号 第42条, issue 12)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: the checks already stored have no level; a plan reads an empty level as a higher level, so the
    # no-repeat rule treats them as it did before (engine.plan.select).
    with op.batch_alter_table('check_result', schema=None) as batch_op:
        batch_op.add_column(sa.Column('level', sa.String(length=12), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('check_result', schema=None) as batch_op:
        batch_op.drop_column('level')
