"""The shell sandbox's own predicates: a command run after the episode, and the commands a step ran."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from lambench.predicate import Args, register, valid_regex

__all__ = ["CommandArgs", "CommandMatchArgs"]

NAME = "shell"


class CommandArgs(Args):
    cmd: str = Field(min_length=1)
    """A bash command run in the shell sandbox after the episode (in the home directory, 20 s timeout)."""
    exit_code: int | None = 0
    """The exit code it must have (null: any)."""
    stdout_equals: str | None = None
    """Its stdout, stripped of surrounding whitespace, must equal this."""
    stdout_contains: str | None = None
    stdout_regex: str | None = None
    """A regular expression its stdout must match (``re.search``, multiline)."""

    _regex = field_validator("stdout_regex")(classmethod(lambda cls, v: valid_regex(v)))


@register("command", "state", CommandArgs, needs=NAME)
def command(ctx, a):
    """A command run in the container after the episode exits with ``exit_code`` and prints what is expected."""
    r = ctx.state["command"](a.cmd)
    out = r["stdout"]
    short = out.strip()[:120]
    if r["timed_out"]:
        return False, f"{a.cmd!r} timed out"
    if a.exit_code is not None and r["exit_code"] != a.exit_code:
        return False, f"{a.cmd!r} exited {r['exit_code']}, expected {a.exit_code} ({r['stderr'].strip()[:120]})"
    if a.stdout_equals is not None and out.strip() != a.stdout_equals.strip():
        return False, f"{a.cmd!r} printed {short!r}, expected {a.stdout_equals.strip()!r}"
    if a.stdout_contains is not None and a.stdout_contains not in out:
        return False, f"{a.cmd!r} printed {short!r}, which lacks {a.stdout_contains!r}"
    if a.stdout_regex is not None and not re.search(a.stdout_regex, out, re.MULTILINE):
        return False, f"{a.cmd!r} printed {short!r}, which does not match /{a.stdout_regex}/"
    return True, f"{a.cmd!r} as expected"

class CommandMatchArgs(Args):
    regex: str = Field(min_length=1)
    """A regular expression searched for in the shell command of the step (``re.search``)."""

    _regex = field_validator("regex")(classmethod(lambda cls, v: valid_regex(v)))


@register("command_matches", "event", CommandMatchArgs, needs=NAME)
def command_matches(ctx, a):
    """The step ran a shell command matching ``regex``."""
    for op in ctx.ops:
        if op["op"] == "shell.exec" and re.search(a.regex, op["args"].get("command", "")):
            return True, f"command {op['args']['command'][:160]!r}"
    return False, "no matching command"

