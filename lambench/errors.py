"""The one base class of the errors a user can fix: bad input, a missing engine, a run directory in the way.

Every error lambench raises for something the *user* can fix -- a malformed task file, an unknown agent,
a run directory of another run, a missing Docker engine, a corrupt dataset -- derives from
:class:`LambenchError`, and its message names the problem and the fix. The command line turns it into
``error: MESSAGE`` and exit code 2; a Python caller catches ``LambenchError`` alone. Anything else that
escapes is a bug in lambench (or in an agent's code) and keeps its traceback.

The classes that were ``ValueError`` before keep that base too, so existing ``except ValueError`` code
still works.
"""
from __future__ import annotations


class LambenchError(Exception):
    """A problem in the user's input or machine, with a message that says how to fix it (CLI exit 2)."""

    exit_code = 2


class MissingExtra(LambenchError, ImportError):
    """An optional dependency that is not installed; the message names the ``pip install 'lambench[EXTRA]'``."""
