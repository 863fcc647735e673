"""The one table from the error tree (tokendesk.errors) to the ``tokendesk`` exit codes.

Every command goes through it: the commands registered in cli/commands.py are wrapped by
``handle_errors``, and ``tokendesk token`` maps the SDK's errors by their stable code, which
is the code of the server's error of the same name. Sysexits-style codes where one fits.
"""

from __future__ import annotations

from tokendesk.errors import (
    AuthenticationRequired,
    AuthorizationRejected,
    ConfigurationError,
    Conflict,
    DatabaseBusy,
    DatabaseUnavailable,
    DecryptionError,
    NotFound,
    PermissionDenied,
    ProviderError,
    RefreshBackingOff,
    SchemaMismatch,
    TokendeskError,
    TokenRefused,
    TokenUnavailable,
    TooManyAttempts,
    ValidationError,
)

# A bug, a failed connection test, or "no" at a confirmation prompt.
UNEXPECTED_EXIT_CODE = 1
CANCELLED_EXIT_CODE = 1
FAILED_TEST_EXIT_CODE = 1
USAGE_EXIT_CODE = 2  # also what Typer answers for a usage error such as a missing option
UNAVAILABLE_EXIT_CODE = 69
PROTOCOL_EXIT_CODE = 76

# The first row whose class the error is an instance of decides: subclasses come first.
EXIT_CODES: tuple[tuple[type[TokendeskError], int, str], ...] = (
    (TokenRefused, 7, "the provider refused an imported refresh token"),
    (ValidationError, USAGE_EXIT_CODE, "invalid input or usage"),
    (NotFound, 3, "not found"),
    (Conflict, 4, "conflict (already exists, or changed meanwhile)"),
    (AuthenticationRequired, 5, "not authenticated (e.g. no or a wrong API key)"),
    (PermissionDenied, 5, "not permitted"),
    (AuthorizationRejected, 5, "consent callback rejected"),
    (TokenUnavailable, 6, "no usable token: a person must (re-)authenticate"),
    (RefreshBackingOff, 75, "refresh backing off: ask again later"),
    (ProviderError, 7, "the provider failed or refused"),
    (SchemaMismatch, 8, "database schema behind (run `tokendesk migrate`) or ahead"),
    (DatabaseUnavailable, UNAVAILABLE_EXIT_CODE, "database unreachable"),
    (DatabaseBusy, 75, "database busy: ask again"),
    (TooManyAttempts, 75, "too many attempts: ask again later"),
    (DecryptionError, UNEXPECTED_EXIT_CODE, "a stored value cannot be decrypted"),
    (ConfigurationError, 78, "configuration or key ring unusable"),
)

# Codes outside the error tree, for ``tokendesk token``: the web layer's for a request it
# cannot read (web/errors.py), and the SDK's own when Tokendesk itself was not reached or
# answered something that is not its wire format.
OTHER_CODES: dict[str, tuple[int, str]] = {
    "malformed_json": (USAGE_EXIT_CODE, "invalid input or usage"),
    "malformed_body": (USAGE_EXIT_CODE, "invalid input or usage"),
    "method_not_allowed": (USAGE_EXIT_CODE, "invalid input or usage"),
    "transport_error": (UNAVAILABLE_EXIT_CODE, "Tokendesk unreachable (token)"),
    "timeout": (UNAVAILABLE_EXIT_CODE, "Tokendesk did not answer in time (token)"),
    "protocol_error": (PROTOCOL_EXIT_CODE, "Tokendesk's answer is not understood (token)"),
    # RFC 6749 §5.2 / RFC 8693 §2.2.2 errors of a token exchange (--workload-token-file)
    "invalid_grant": (5, "not authenticated (e.g. no or a wrong API key)"),
    "unauthorized_client": (5, "not permitted"),
    "invalid_target": (3, "not found"),
    "invalid_request": (USAGE_EXIT_CODE, "invalid input or usage"),
    "invalid_scope": (USAGE_EXIT_CODE, "invalid input or usage"),
    "unsupported_grant_type": (USAGE_EXIT_CODE, "invalid input or usage"),
    "temporarily_unavailable": (UNAVAILABLE_EXIT_CODE, "Tokendesk unreachable (token)"),
}


def exit_code_row(kind: type[TokendeskError]) -> tuple[type[TokendeskError], int, str] | None:
    """The row of the table that decides for ``kind``; None when none does."""
    return next((row for row in EXIT_CODES if issubclass(kind, row[0])), None)


def exit_code_for(error: TokendeskError | type[TokendeskError]) -> int:
    """The exit code of an error (or an error class); UNEXPECTED_EXIT_CODE when no row fits."""
    row = exit_code_row(error if isinstance(error, type) else type(error))
    return row[1] if row else UNEXPECTED_EXIT_CODE


def error_class_for_code(code: str) -> type[TokendeskError] | None:
    """The class of the error tree whose stable ``code`` this is (the API's codes)."""
    pending: list[type[TokendeskError]] = [TokendeskError]
    while pending:
        kind = pending.pop()
        if kind.code == code:
            return kind
        pending.extend(kind.__subclasses__())
    return None


def exit_code_for_code(code: str) -> int:
    """The exit code of an error known by its stable code only (an SDK error's ``code``)."""
    kind = error_class_for_code(code)
    if kind is not None:
        return exit_code_for(kind)
    return OTHER_CODES.get(code, (UNEXPECTED_EXIT_CODE, ""))[0]


def epilog() -> str:
    """The table for ``tokendesk --help``, one line per exit code."""
    meanings: dict[int, list[str]] = {0: ["success"]}
    meanings[UNEXPECTED_EXIT_CODE] = ["unexpected error, failed test or cancelled"]
    for _kind, code, meaning in EXIT_CODES:
        meanings.setdefault(code, []).append(meaning)
    for code, meaning in OTHER_CODES.values():
        meanings.setdefault(code, []).append(meaning)
    lines = [f"{code:>3}  {'; '.join(dict.fromkeys(said))}"
             for code, said in sorted(meanings.items())]
    return "Exit codes:\n\n\b\n" + "\n".join(lines)
