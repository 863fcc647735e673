"""JSON views of domain objects, shared by the REST API and the CLI's --json output, one
module per area: connections, providers, accounts, audit, settings, tokens, notifications.

None has a field that could carry a stored secret out.
"""
