"""four-eyes rule-pack publication (issue 16 item 4): proposals and their reviews

A rule pack becomes active only through a proposal (a `pack-proposal` ledger entry) that a second supervisor approved
(a `pack-review` entry). These tables hold the same facts for lookup; both are insert only, and `audit verify`
checks each row against its entry. Recorded `publish` entries are not touched.

Revision ID: 0011
Revises: 0009 (the lead rechains it after 0010)
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'  # rechained at the merge of s21-h5 and s21-h4 (WEB.md)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pack_proposal',
        sa.Column('id', sa.String(length=60), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('version', sa.String(length=60), nullable=False),
        sa.Column('files_hash', sa.String(length=64), nullable=False),
        sa.Column('pack_hash', sa.String(length=64), nullable=False),
        sa.Column('previous', sa.String(length=60), nullable=True),
        sa.Column('proposed_by', sa.String(length=120), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_pack_proposal_files_hash', 'pack_proposal', ['files_hash'])
    op.create_table(
        'pack_review',
        sa.Column('proposal_id', sa.String(length=60), nullable=False),
        sa.Column('decision', sa.String(length=8), nullable=False),
        sa.Column('reviewed_by', sa.String(length=120), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('run_id', sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(['proposal_id'], ['pack_proposal.id']),
        sa.PrimaryKeyConstraint('proposal_id'),
    )


def downgrade() -> None:
    op.drop_table('pack_review')
    op.drop_index('ix_pack_proposal_files_hash', table_name='pack_proposal')
    op.drop_table('pack_proposal')
