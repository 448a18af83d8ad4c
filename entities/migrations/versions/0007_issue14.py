"""results per visit (append-only versions), their batches, 公示 records, follow-up proposals and decisions (issue 14)

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per recording run (a `results record` or a `results import`): who, when, from what file.
    op.create_table(
        'result_batch',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('file_name', sa.String(length=200), nullable=True),
        sa.Column('file_sha256', sa.String(length=64), nullable=True),
        sa.Column('recorded_on', sa.Date(), nullable=False),
        sa.Column('recorded_by', sa.String(length=120), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('visits', sa.Integer(), nullable=False),
        sa.Column('items', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    # Append-only: a correction is the next version; no row is ever updated or deleted.
    op.create_table(
        'result_item',
        sa.Column('plan_id', sa.String(length=40), nullable=False),
        sa.Column('visit_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('item_code', sa.String(length=32), nullable=False),
        sa.Column('batch_id', sa.String(length=40), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('completed_on', sa.Date(), nullable=False),
        sa.Column('team', sa.JSON(), nullable=False),
        sa.Column('result_codes', sa.JSON(), nullable=False),
        sa.Column('findings', sa.Text(), nullable=False),
        sa.Column('measures', sa.JSON(), nullable=False),
        sa.Column('rectification_report_on', sa.Date(), nullable=True),
        sa.Column('recorded_on', sa.Date(), nullable=False),
        sa.Column('recorded_by', sa.String(length=120), nullable=False),
        sa.Column('correction_reason', sa.Text(), nullable=True),
        sa.Column('fingerprint', sa.String(length=71), nullable=False),
        sa.ForeignKeyConstraint(['plan_id', 'visit_id'], ['plan_visit.plan_id', 'plan_visit.visit_id']),
        sa.ForeignKeyConstraint(['batch_id'], ['result_batch.id']),
        sa.PrimaryKeyConstraint('plan_id', 'visit_id', 'version', 'item_code'),
    )
    op.create_index('ix_result_item_uscc', 'result_item', ['uscc'])
    op.create_index('ix_result_item_batch_id', 'result_item', ['batch_id'])
    op.create_table(
        'publication',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('published_on', sa.Date(), nullable=False),
        sa.Column('published_by', sa.String(length=120), nullable=False),
        sa.Column('plan_id', sa.String(length=40), nullable=True),
        sa.Column('until', sa.Date(), nullable=True),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('csv_sha256', sa.String(length=64), nullable=False),
        sa.Column('xlsx_sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    # Which version of which visit's result each publication carried, and whether it was within the clock.
    op.create_table(
        'publication_item',
        sa.Column('publication_id', sa.String(length=40), nullable=False),
        sa.Column('plan_id', sa.String(length=40), nullable=False),
        sa.Column('visit_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('completed_on', sa.Date(), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('result_codes', sa.JSON(), nullable=False),
        sa.Column('on_time', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['publication_id'], ['publication.id']),
        sa.ForeignKeyConstraint(['plan_id', 'visit_id'], ['plan_visit.plan_id', 'plan_visit.visit_id']),
        sa.PrimaryKeyConstraint('publication_id', 'plan_id', 'visit_id'),
    )
    op.create_index('ix_publication_item_visit', 'publication_item', ['plan_id', 'visit_id'])
    op.create_table(
        'followup_proposal',
        sa.Column('id', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('plan_id', sa.String(length=40), nullable=False),
        sa.Column('visit_id', sa.String(length=64), nullable=False),
        sa.Column('uscc', sa.String(length=18), nullable=False),
        sa.Column('item_code', sa.String(length=32), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('basis', sa.Text(), nullable=False),
        sa.Column('earliest', sa.Date(), nullable=True),
        sa.Column('latest', sa.Date(), nullable=True),
        sa.Column('needs_decision', sa.Boolean(), nullable=False),
        sa.Column('proposed_on', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_followup_proposal_uscc', 'followup_proposal', ['uscc'])
    # One decision per proposal, never changed: the decision row and its ledger entry are the record.
    op.create_table(
        'followup_decision',
        sa.Column('proposal_id', sa.String(length=200), nullable=False),
        sa.Column('decision', sa.String(length=8), nullable=False),
        sa.Column('decided_by', sa.String(length=120), nullable=False),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('run_id', sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(['proposal_id'], ['followup_proposal.id']),
        sa.PrimaryKeyConstraint('proposal_id'),
    )


def downgrade() -> None:
    op.drop_table('followup_decision')
    op.drop_index('ix_followup_proposal_uscc', table_name='followup_proposal')
    op.drop_table('followup_proposal')
    op.drop_index('ix_publication_item_visit', table_name='publication_item')
    op.drop_table('publication_item')
    op.drop_table('publication')
    op.drop_index('ix_result_item_batch_id', table_name='result_item')
    op.drop_index('ix_result_item_uscc', table_name='result_item')
    op.drop_table('result_item')
    op.drop_table('result_batch')
