"""Notifications: the outbox dispatcher, the webhook deliverer and the mailer (open their own
short transactions and call receivers or the SMTP server between them, never inside one)."""
