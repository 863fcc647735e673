"""The desk file: the desk as code (connections, custom roles, egress allowlist, forward
proxy), exported, planned and applied with its secrets by reference."""
