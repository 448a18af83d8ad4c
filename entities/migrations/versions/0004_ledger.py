"""the decision ledger: hash-chained entries and content-addressed blobs (snapshots, pack versions)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ledger',
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('run_id', sa.String(length=60), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('entry_hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq'),
        sa.UniqueConstraint('run_id'),
        sa.UniqueConstraint('prev_hash'),
        sa.UniqueConstraint('entry_hash'),
    )
    op.create_table(
        'blob',
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('hash'),
    )


def downgrade() -> None:
    op.drop_table('blob')
    op.drop_table('ledger')
