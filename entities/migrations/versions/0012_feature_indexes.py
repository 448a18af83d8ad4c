"""indexes holding the columns a grade's feature read takes, in USCC order (issue 15, session 26)

A grade reads its subjects a USCC range at a time (engine/features/read.py). The tables' rows are stored in load
order, so reading a range through a USCC index fetched one random table page per row: every partition read most of
`subject`'s, `annual_report`'s and `complaint`'s pages again. An index that holds every column the read takes is
read as one run of its own pages instead. `ix_complaint_features` replaces the USCC-only `ix_complaint_uscc` (it
serves every lookup that one did). Only indexes change: no row is written, so recorded entries are untouched.

At guangzhou (3.3 M subjects, SQLite; `python bench/grade.py guangzhou --db … --versus TREE` prints it) the upgrade
took 23 CPU-s (172 s wall on a machine at load ≈ 20) and the file grew 2.14 → 2.76 GB: subject's index about
0.25 GB, annual_report's 0.28, complaint's 0.11 (the dropped ix_complaint_uscc's 0.06 GB of pages stay in the
file as free pages, for SQLite to reuse).

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SUBJECT = ['uscc', 'registered_on', 'kind', 'status', 'industry', 'whitelist', 'lenient', 'region']


def upgrade() -> None:
    op.create_index('ix_subject_features', 'subject', SUBJECT)
    op.create_index('ix_annual_report_features', 'annual_report', ['year', 'uscc', 'filed_on'])
    op.create_index('ix_complaint_features', 'complaint', ['uscc', 'received_on', 'verified', 'domain'])
    op.drop_index('ix_complaint_uscc', table_name='complaint')
    if op.get_bind().dialect.name == 'postgresql':
        # Plan the next queries with the new indexes in view (SQLite's planner needs no statistics for them).
        op.execute('ANALYZE subject, annual_report, complaint')


def downgrade() -> None:
    op.create_index('ix_complaint_uscc', 'complaint', ['uscc'])
    op.drop_index('ix_complaint_features', table_name='complaint')
    op.drop_index('ix_annual_report_features', table_name='annual_report')
    op.drop_index('ix_subject_features', table_name='subject')
