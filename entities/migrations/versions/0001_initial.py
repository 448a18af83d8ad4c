"""initial schema: subjects, equipment, inspectors, check items

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accident',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('reg_code', sa.String(length=20), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('responsible', sa.Boolean(), nullable=False),
    sa.Column('casualties', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('accident', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accident_reg_code'), ['reg_code'], unique=False)

    op.create_table('check_item',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('domain', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('initiating_department', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('cooperating_departments', sa.JSON(), nullable=False),
    sa.Column('target', sa.JSON(), nullable=False),
    sa.Column('method', sa.String(length=12), nullable=False),
    sa.Column('legal_basis', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('contents', sa.JSON(), nullable=False),
    sa.Column('required_qualifications', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('check_result',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('checked_on', sa.Date(), nullable=False),
    sa.Column('item_code', sa.String(length=32), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('result_codes', sa.JSON(), nullable=False),
    sa.Column('lead_inspector', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('check_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_result_uscc'), ['uscc'], unique=False)

    op.create_table('complaint',
    sa.Column('ticket_no', sa.String(length=40), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('ticket_no')
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_uscc'), ['uscc'], unique=False)

    op.create_table('conflict',
    sa.Column('inspector_id', sa.String(length=32), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('inspector_id', 'uscc')
    )
    op.create_table('device_business',
    sa.Column('licence_no', sa.String(length=40), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('activity', sa.String(length=12), nullable=False),
    sa.Column('product_class', sa.String(length=4), nullable=False),
    sa.Column('key_catalogue', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('licence_no')
    )
    with op.batch_alter_table('device_business', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_business_uscc'), ['uscc'], unique=False)

    op.create_table('equipment',
    sa.Column('reg_code', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('sub_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('user_uscc', sa.String(length=18), nullable=False),
    sa.Column('location_type', sa.String(length=16), nullable=False),
    sa.Column('installed_on', sa.Date(), nullable=False),
    sa.Column('design_life_years', sa.Integer(), nullable=True),
    sa.Column('last_inspected_on', sa.Date(), nullable=True),
    sa.Column('last_conclusion', sa.String(length=16), nullable=True),
    sa.Column('next_due_on', sa.Date(), nullable=True),
    sa.Column('safety_grade', sa.Integer(), nullable=True),
    sa.Column('open_hidden_dangers', sa.Integer(), nullable=False),
    sa.Column('serious_hidden_dangers', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('reg_code')
    )
    with op.batch_alter_table('equipment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_equipment_next_due_on'), ['next_due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_equipment_user_uscc'), ['user_uscc'], unique=False)

    op.create_table('food_business',
    sa.Column('licence_no', sa.String(length=40), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('licence_kind', sa.String(length=16), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('scale', sa.String(length=8), nullable=False),
    sa.Column('static_score', sa.Float(), nullable=False),
    sa.Column('dynamic_score', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('licence_no')
    )
    with op.batch_alter_table('food_business', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_food_business_uscc'), ['uscc'], unique=False)

    op.create_table('inspector',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('region', sa.String(length=9), nullable=False),
    sa.Column('certificate_no', sa.String(length=40), nullable=True),
    sa.Column('qualifications', sa.JSON(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('licence',
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('number')
    )
    with op.batch_alter_table('licence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licence_uscc'), ['uscc'], unique=False)

    op.create_table('list_entry',
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('list_name', sa.String(length=24), nullable=False),
    sa.Column('listed_on', sa.Date(), nullable=False),
    sa.Column('removed_on', sa.Date(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('uscc', 'list_name', 'listed_on')
    )
    op.create_table('penalty',
    sa.Column('decision_no', sa.String(length=80), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('legal_basis', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('decision_no')
    )
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_penalty_uscc'), ['uscc'], unique=False)

    op.create_table('region',
    sa.Column('code', sa.String(length=9), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('parent', sa.String(length=9), nullable=True),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('subject',
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('industry', sa.String(length=5), nullable=False),
    sa.Column('region', sa.String(length=9), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('whitelist', sa.Boolean(), nullable=False),
    sa.Column('lenient', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('uscc')
    )
    with op.batch_alter_table('subject', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subject_region'), ['region'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('subject', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subject_region'))

    op.drop_table('subject')
    op.drop_table('region')
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_penalty_uscc'))

    op.drop_table('penalty')
    op.drop_table('list_entry')
    with op.batch_alter_table('licence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_licence_uscc'))

    op.drop_table('licence')
    op.drop_table('inspector')
    with op.batch_alter_table('food_business', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_food_business_uscc'))

    op.drop_table('food_business')
    with op.batch_alter_table('equipment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_equipment_user_uscc'))
        batch_op.drop_index(batch_op.f('ix_equipment_next_due_on'))

    op.drop_table('equipment')
    with op.batch_alter_table('device_business', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_business_uscc'))

    op.drop_table('device_business')
    op.drop_table('conflict')
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_uscc'))

    op.drop_table('complaint')
    with op.batch_alter_table('check_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_result_uscc'))

    op.drop_table('check_result')
    op.drop_table('check_item')
    with op.batch_alter_table('accident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accident_reg_code'))

    op.drop_table('accident')
