"""What a database driver error means for the person asking: the database is away, or busy.

Both answer 503, but they read differently: "not reachable" sends an operator to look at
the server; "busy" (a serialization failure, a deadlock, a lock or statement timeout, a
locked SQLite file) only asks to try again in a moment.
"""

from __future__ import annotations

from tokendesk.errors import DatabaseBusy, DatabaseUnavailable

# PostgreSQL SQLSTATEs of a transaction that lost a race or ran out of time (Appendix A)
_BUSY_SQLSTATES = {
    "40001": "Another change to the same data was made at the same moment",  # serialization
    "40P01": "Another change to the same data was made at the same moment",  # deadlock
    "55P03": "The data is locked by another change",  # lock_not_available (lock_timeout)
    "57014": "The database took too long to answer",  # query_canceled (statement_timeout)
}
_BUSY_SQLITE = {"SQLITE_BUSY", "SQLITE_LOCKED"}

UNREACHABLE = "The database is not reachable right now; try again shortly."


def database_error(exc: BaseException) -> DatabaseUnavailable | DatabaseBusy:
    """The Tokendesk error for a driver's operational error (``exc`` may be SQLAlchemy's
    wrapper or the driver's own); never quotes the driver's text, which may hold SQL."""
    driver = getattr(exc, "orig", None) or exc
    sqlstate = getattr(driver, "sqlstate", None)
    if sqlstate in _BUSY_SQLSTATES:
        return DatabaseBusy(f"{_BUSY_SQLSTATES[sqlstate]}; try again in a moment.")
    if getattr(driver, "sqlite_errorname", None) in _BUSY_SQLITE:
        return DatabaseBusy("The database is busy with another change; try again in a moment.")
    return DatabaseUnavailable(UNREACHABLE)
