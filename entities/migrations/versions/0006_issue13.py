"""roster for schedules and "my list" (weekly capacity, account link, standing team), organisational units, visit rows (issue 13)

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: today's rosters stay valid; a missing weekly capacity is derived from the yearly one.
    with op.batch_alter_table('inspector', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weekly_capacity', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('user_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('standing_team', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_inspector_user_name', ['user_name'], unique=True)
    op.create_table(
        'org_unit',
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('townships', sa.JSON(), nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'plan_visit',
        sa.Column('plan_id', sa.String(length=40), nullable=False),
        sa.Column('visit_id', sa.String(length=64), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('region', sa.String(length=9), nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('team', sa.JSON(), nullable=False),
        sa.Column('lead', sa.String(length=32), nullable=False),
        sa.Column('scheduled_on', sa.Date(), nullable=True),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False, server_default='planned'),
        sa.PrimaryKeyConstraint('plan_id', 'visit_id'),
    )
    op.create_index('ix_plan_visit_uscc', 'plan_visit', ['uscc'])
    op.create_index('ix_plan_visit_lead', 'plan_visit', ['lead'])


def downgrade() -> None:
    op.drop_index('ix_plan_visit_lead', table_name='plan_visit')
    op.drop_index('ix_plan_visit_uscc', table_name='plan_visit')
    op.drop_table('plan_visit')
    op.drop_table('org_unit')
    with op.batch_alter_table('inspector', schema=None) as batch_op:
        batch_op.drop_index('ix_inspector_user_name')
        batch_op.drop_column('standing_team')
        batch_op.drop_column('user_name')
        batch_op.drop_column('weekly_capacity')
