"""Identifiers and clocks shared by the repositories."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A random 32-hex-digit row id, known before insert so ciphertexts can bind it."""
    return uuid.uuid4().hex
