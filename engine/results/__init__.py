"""一公开: results recorded per visit, their 公示 within 20 working days, and the follow-ups they call for.

Pure cores, no store and no clock: `codes` (the result-code table and its legal effects), `model` (a visit's result
and its versions), `validate` (every problem of a result or a results file, with row and column), `publication`
(the 20-working-day clock and the records a 国家企业信用信息公示系统 upload takes), `followups` (re-checks, listing and
penalty-case proposals, as plain data a supervisor decides on).
"""
