"""The web skin of suijian (issue 16): a server-rendered app in Chinese for inspectors, supervisors and auditors, and a
JSON API for the same operations. Handlers call the same engine functions as the CLI; nothing here computes a rule,
a draw or a hash. `web.app.create_app(db_url)` builds the app; `suijian serve` runs it.
"""
