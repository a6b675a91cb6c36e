"""Model-adapter options from text: ``KEY=VALUE`` pairs (as ``--agent-option`` gives them) and the named options.

What :func:`agent_options` returns is what :func:`lambench.agents.make_agent` (and ``RunConfig.agent_options``,
``ReplayConfig.agent_options``) take, so a Python caller builds the same options as the command line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lambench.errors import LambenchError

__all__ = ["AgentOptionError", "agent_options", "option_value"]

_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(0|[1-9][0-9]*)?\.[0-9]+([eE][-+]?[0-9]+)?|-?[1-9][0-9]*[eE][-+]?[0-9]+")


class AgentOptionError(LambenchError, ValueError):
    """An adapter option that is not ``KEY=VALUE``."""


def option_value(text: str) -> Any:
    """Plain decimal numbers and ``true``/``false`` become numbers and booleans; anything else (``0123``, ``0x1F``,
    ``yes``, ``off``, paths) stays text, as written.

    >>> [option_value(v) for v in ("3", "0.2", "1e3", "true", "0x1F", "0123")]
    [3, 0.2, 1000.0, True, '0x1F', '0123']
    """
    v = text.strip()
    if _INT.fullmatch(v):
        return int(v)
    if _FLOAT.fullmatch(v):
        return float(v)
    if v in ("true", "false"):
        return v == "true"
    return text


def agent_options(pairs: Iterable[str] = (), *, base_url: str | None = None, cache: str | None = None,
                  max_concurrency: int | None = None, price_table: str | None = None) -> dict[str, Any]:
    """The options of model adapters: ``KEY=VALUE`` pairs (``-`` in keys read as ``_``), then the named ones given.

    >>> agent_options(["temperature=0.2", "max-tokens=256"], base_url="http://127.0.0.1:8000/v1")
    {'temperature': 0.2, 'max_tokens': 256, 'base_url': 'http://127.0.0.1:8000/v1'}
    """
    out: dict[str, Any] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AgentOptionError(f"--agent-option {item!r}: expected KEY=VALUE, e.g. temperature=0.2")
        out[key.strip().replace("-", "_")] = option_value(value)
    for key, named in (("base_url", base_url), ("cache", cache), ("max_concurrency", max_concurrency),
                       ("price_table", price_table)):
        if named is not None:
            out[key] = named
    return out
