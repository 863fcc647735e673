"""Pure rules of Tokendesk: no I/O, and nothing of ours imported but ``tokendesk.errors``."""
