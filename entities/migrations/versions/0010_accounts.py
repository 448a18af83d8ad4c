"""the web app's accounts, API tokens, sessions, login attempts, signing secret and background jobs (issue 16)

The signing secret is generated here, once per store (`suijian init`), so it is never in the code or a config
file and every process serving the store shares it. Nothing here is a ledger entry.

Revision ID: 0010
Revises: 0009
"""
import secrets

from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'account',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('display', sa.String(length=100), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('disabled_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'api_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('label', sa.String(length=100), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account'], ['account.name']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_api_token_account', 'api_token', ['account'])
    op.create_table(
        'web_session',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account'], ['account.name']),
        sa.PrimaryKeyConstraint('id_hash'),
    )
    op.create_index('ix_web_session_account', 'web_session', ['account'])
    op.create_index('ix_web_session_expires_at', 'web_session', ['expires_at'])
    op.create_table(
        'login_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_login_attempt_account', 'login_attempt', ['account'])
    op.create_index('ix_login_attempt_client', 'login_attempt', ['client'])
    op.create_index('ix_login_attempt_at', 'login_attempt', ['at'])
    setting = op.create_table(
        'web_setting',
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.bulk_insert(setting, [{'key': 'secret', 'value': secrets.token_hex(32)}])
    op.create_table(
        'job',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('scope', sa.String(length=120), nullable=False),
        sa.Column('running_scope', sa.String(length=120), nullable=True),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('step', sa.String(length=200), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('result', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('running_scope'),
    )
    op.create_index('ix_job_scope', 'job', ['scope'])


def downgrade() -> None:
    op.drop_index('ix_job_scope', table_name='job')
    op.drop_table('job')
    op.drop_table('web_setting')
    op.drop_index('ix_login_attempt_at', table_name='login_attempt')
    op.drop_index('ix_login_attempt_client', table_name='login_attempt')
    op.drop_index('ix_login_attempt_account', table_name='login_attempt')
    op.drop_table('login_attempt')
    op.drop_index('ix_web_session_expires_at', table_name='web_session')
    op.drop_index('ix_web_session_account', table_name='web_session')
    op.drop_table('web_session')
    op.drop_index('ix_api_token_account', table_name='api_token')
    op.drop_table('api_token')
    op.drop_table('account')
