"""Notifications: the outbox dispatcher and the webhook deliverer (open their own short
transactions and call receivers between them, never inside one)."""
