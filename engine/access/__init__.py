"""Accounts, API tokens, sessions and the sign-in rate limit: the store side of the web app's authentication.

The skins (the `users` commands, web/auth.py) call these; they never touch the access tables themselves. Time is an
argument (`now`), so the expiry and rate-limit rules are tested without a clock.
"""
