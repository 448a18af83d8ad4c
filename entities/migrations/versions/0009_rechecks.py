"""re-check visits (复查) scheduled from follow-up proposals (issue 14 item 3)

A re-check is a new `plan_visit` row under the plan of the visit it follows up (results refer to plan_visit rows),
never a change to the plan's document or its own rows; this table says which rows are re-checks, of what, why,
in which window and how the team was chosen. Insert only: each scheduling run is a `recheck` ledger entry.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'recheck_visit',
        sa.Column('plan_id', sa.String(length=40), nullable=False),
        sa.Column('visit_id', sa.String(length=64), nullable=False),
        sa.Column('proposal_id', sa.String(length=200), nullable=False),
        sa.Column('of_visit_id', sa.String(length=64), nullable=False),
        sa.Column('item_code', sa.String(length=32), nullable=False),
        sa.Column('earliest', sa.Date(), nullable=False),
        sa.Column('latest', sa.Date(), nullable=False),
        sa.Column('team_rule', sa.String(length=16), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['plan_id', 'visit_id'], ['plan_visit.plan_id', 'plan_visit.visit_id']),
        sa.ForeignKeyConstraint(['proposal_id'], ['followup_proposal.id']),
        sa.PrimaryKeyConstraint('plan_id', 'visit_id'),
        sa.UniqueConstraint('proposal_id', name='uq_recheck_visit_proposal'),
    )
    op.create_index('ix_recheck_visit_run_id', 'recheck_visit', ['run_id'])


def downgrade() -> None:
    op.drop_index('ix_recheck_visit_run_id', table_name='recheck_visit')
    op.drop_table('recheck_visit')
