"""The finding codes a pack check reports (`file:line: code: message`): stable names that tools and tests can
match on, each documented with its meaning in engine/rules/README.md (a test keeps the two in step)."""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """What is wrong, in one word; the message says where and how to fix it."""

    # Reading the files
    PACK_MISSING = "pack_missing"
    MANIFEST_MISSING = "manifest_missing"
    UNREADABLE = "unreadable"
    ENCODING = "encoding"
    YAML_SYNTAX = "yaml_syntax"
    YAML_TAB = "yaml_tab"
    DATA_MISSING = "data_missing"
    PARENT_MISSING = "parent_missing"
    PARENT_CYCLE = "parent_cycle"
    # Shape: the right kind of YAML node in the right place
    NOT_MAPPING = "not_mapping"
    NOT_LIST = "not_list"
    NOT_TEXT = "not_text"
    NOT_BOOL = "not_bool"
    BAD_DATE = "bad_date"
    DATE_ORDER = "date_order"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    MISSING_ID = "missing_id"
    MISSING_REASON = "missing_reason"
    MISSING_BASIS = "missing_basis"
    EMPTY_TABLE = "empty_table"
    # Names
    BAD_ID = "bad_id"
    DUPLICATE_ID = "duplicate_id"
    DUPLICATE_KEY = "duplicate_key"
    NAME_CLASH = "name_clash"
    UNKNOWN_FEATURE = "unknown_feature"
    UNKNOWN_OUTPUT = "unknown_output"
    UNKNOWN_PARAMETER = "unknown_parameter"
    UNKNOWN_RULE = "unknown_rule"
    UNDECLARED_INPUT = "undeclared_input"
    MIXED_VOCABULARY = "mixed_vocabulary"  # a decision or case reads subject features and result facts
    # Types and settings of decisions, outputs and parameters
    UNKNOWN_TYPE = "unknown_type"
    TYPE_ERROR = "type_error"
    DUPLICATE_VALUE = "duplicate_value"
    UNKNOWN_HIT_POLICY = "unknown_hit_policy"
    UNKNOWN_AGGREGATE = "unknown_aggregate"
    AGGREGATE_NOT_COLLECT = "aggregate_not_collect"
    UNORDERED_PRIORITY = "unordered_priority"
    BAD_CONDITION = "bad_condition"
    MISSING_OUTPUT = "missing_output"
    TOO_COMPLEX = "too_complex"
    CYCLE = "cycle"
    # Merging a child pack into its parent
    OVERRIDE_CONFLICT = "override_conflict"
    MISPLACED_RULE = "misplaced_rule"
    ELSE_NOT_LAST = "else_not_last"
    ELSE_WITH_WHEN = "else_with_when"
    # The data files: policy.yaml (the plan policy) and catalogue.yaml (the check-item catalogue)
    BAD_POLICY = "bad_policy"
    BAD_CATALOGUE = "bad_catalogue"
    BAD_TARGET = "bad_target"
    UNKNOWN_ITEM = "unknown_item"
    UNKNOWN_GRADE_COLUMN = "unknown_grade_column"
    # Table analysis
    OVERLAP = "overlap"
    GAP = "gap"
    UNREACHABLE = "unreachable"
    ANALYSIS_LIMIT = "analysis_limit"
    # Explanations
    STALE_REASON = "stale_reason"
