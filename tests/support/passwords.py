"""The password hasher of the tests: real argon2id at the smallest cost argon2 allows.

Production parameters are proven by ``tests/services/test_passwords.py``; every other test
hashes with this one, which costs microseconds instead of tens of milliseconds per password.
"""

from __future__ import annotations

from argon2 import PasswordHasher

from tokendesk.services.passwords import Passwords

CHEAP_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
