"""Why storing a batch failed: because of what is in it, or because of the database.

The writer must tell the two apart. A failure for a reason in the data (a value PostgreSQL
cannot hold, a constraint the row breaks) fails again on every retry, and retrying it
forever would stall every gateway behind it (acknowledgements go in arrival order): such a
batch is stored message by message and only the guilty message is dead-lettered. Any other
failure (the database is down, restarting, out of disk, read-only, a lock timeout) says
nothing about the message: it is retried with back-off and the messages stay
unacknowledged, so nothing is lost while the database is away.

Data errors are recognised by what they are, never assumed: an unknown failure is treated as
the database's (a stall, visible in ``/health/ready``, is better than dead-lettering good
readings during an outage).
"""

from __future__ import annotations

import psycopg

from protocols.wire import WireError

#: PostgreSQL's class 22 (data exception) and 23 (integrity constraint violation), the
#: driver refusing a value before sending it (a NUL in text, a lone surrogate), and our own
#: wire code refusing to re-encode what a peer sent.
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.DataError,
    psycopg.IntegrityError,
    UnicodeError,
    OverflowError,
    WireError,
)

#: Failures that are an outage, not a defect: logged without a traceback.
_OUTAGES: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError)


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by the data being stored (retrying cannot help)."""
    return isinstance(exc, _DATA_ERRORS)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable or refusing work for now (the pool's
    timeout is an OperationalError too)."""
    return isinstance(exc, _OUTAGES)


def describe(exc: BaseException) -> str:
    """One line for a log or a dead letter: the error's class and first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
