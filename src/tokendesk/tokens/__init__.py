"""The token lifecycle: obtain (consent, client credentials), hand out, refresh, revoke.

Its operations open their own short transactions (they receive a Transaction factory) and
may call a provider between them; see docs/architecture.md.
"""
