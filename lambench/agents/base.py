"""The agent protocol, the observation agents receive, and agent specs.

An agent is any object with two methods::

    class MyAgent:
        def reset(self, task: TaskView) -> None: ...
        def act(self, observation: Observation) -> dict | str | Action: ...

``act`` may return an action object, a dict, or text (JSON in any form
:func:`lambench.action.parse_action` accepts).  Output that does not parse is recorded as
an invalid action and shown to the agent as the next observation's ``error``.  An agent may
set ``last_usage = {"tokens_in": int, "tokens_out": int}`` after each ``act`` to report tokens,
and, in offline replay, ``last_status = "finish"`` to declare that the action it returns
completes the task (datasets whose last step is a real action, as in the LAM paper's data).

Agents are named by spec strings: ``oracle``, ``random``, ``noop-claim``, ``reckless``,
``module.path:Class`` (constructed with keyword ``seed`` — the episode's seed — if it takes one), or a name
registered in the ``lambench.agents`` entry-point group.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from lambench.errors import LambenchError
from lambench.task import TaskView

__all__ = ["Agent", "AgentSpecError", "Observation", "BUILTIN_AGENTS", "make_agent"]


@dataclass(slots=True)
class Observation:
    """What an agent sees after a reset or a step."""

    text: str
    """The rendered observation: last result or error, then the accessibility tree."""
    controls: list[dict[str, Any]] = field(default_factory=list)
    """The visible controls: ``label``, ``role``, ``name``, ``value`` (and ``options``)."""
    focused: str = "desktop"
    step: int = 0
    error: str | None = None
    """Why the previous action was invalid or failed, else None."""
    result: str = ""
    data: Any = None
    """Data returned by a read-only API call (listings, file text)."""
    instruction: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    """The actions of the earlier steps, oldest first: in a live run, the agent's own valid actions;
    in offline replay, the *gold* actions (teacher forcing) — an agent that keeps its own history
    should prefer this one."""


@runtime_checkable
class Agent(Protocol):
    def reset(self, task: TaskView) -> None: ...

    def act(self, observation: Observation) -> Any: ...


class AgentSpecError(LambenchError, ValueError):
    """An agent spec that names nothing loadable."""


BUILTIN_AGENTS: dict[str, str] = {
    "oracle": "lambench.agents.baseline:OracleAgent",
    "random": "lambench.agents.baseline:RandomAgent",
    "noop-claim": "lambench.agents.baseline:NoopClaimAgent",
    "reckless": "lambench.agents.baseline:RecklessAgent",
    "injection-follower": "lambench.agents.baseline:InjectionFollowerAgent",
}
ADAPTERS: dict[str, str] = {
    "openai": "lambench.agents.openai_agent:OpenAIAgent",
    "anthropic": "lambench.agents.anthropic_agent:AnthropicAgent",
    "hf": "lambench.agents.hf_agent:HFAgent",
    "replay": "lambench.agents.replay_agent:ReplayRunAgent",
}
"""Model adapters: ``PREFIX:MODEL`` specs, constructed with the model and the run's agent options."""


def _import(target: str, spec: str) -> Any:
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise AgentSpecError(f"agent {spec!r}: expected module.path:ClassName, e.g. my_agents:MyAgent")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise AgentSpecError(f"agent {spec!r}: cannot import module {module!r} ({exc}). "
                             "Check that it is on PYTHONPATH or installed.") from None
    obj = mod
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise AgentSpecError(f"agent {spec!r}: module {module!r} has no attribute {attr!r}")
    return obj


@functools.lru_cache(maxsize=8)
def _plugins(path: tuple[str, ...]) -> dict[str, str]:
    """The ``lambench.agents`` entry points of the installed packages on ``path``: read once per search path,
    since scanning every installed distribution costs milliseconds and the runner makes an agent per episode."""
    return {ep.name: ep.value for ep in entry_points(group="lambench.agents")}


def make_agent(spec: str, *, seed: int = 0, options: dict[str, Any] | None = None) -> Any:
    """Build the agent a spec string names; raise :class:`AgentSpecError` with a fix if it names nothing.

    ``options`` (``--base-url``, ``--cache``, ``--agent-option KEY=VALUE``, ...) go to model adapters
    (``openai:``, ``anthropic:``, ``hf:``, ``replay:``); other agents ignore them.
    """
    spec = spec.strip()
    prefix, sep, model = spec.partition(":")
    if sep and prefix in ADAPTERS:
        cls = _import(ADAPTERS[prefix], spec)
        try:
            return cls(model, seed=seed, **(options or {}))
        except (ValueError, ImportError, TypeError) as exc:
            raise AgentSpecError(f"agent {spec!r}: {exc}") from None
    target = BUILTIN_AGENTS.get(spec)
    if target is None:
        target = _plugins(tuple(sys.path)).get(spec)
    if target is None:
        if ":" not in spec:
            close = difflib.get_close_matches(spec, list(BUILTIN_AGENTS), n=1)
            raise AgentSpecError(f"unknown agent {spec!r}." + (f" Did you mean {close[0]!r}?" if close else "")
                                 + f" Built-in agents: {', '.join(BUILTIN_AGENTS)}; model adapters: "
                                 + ", ".join(f"{p}:MODEL" for p in ADAPTERS) + "; or give module.path:Class")
        target = spec
    cls = _import(target, spec)
    if not callable(cls):
        raise AgentSpecError(f"agent {spec!r} names {type(cls).__name__}, not a class or factory")
    try:
        params = inspect.signature(cls).parameters
        agent = cls(seed=seed) if "seed" in params else cls()
    except Exception as exc:  # a user's constructor failing is their error to see
        raise AgentSpecError(f"agent {spec!r} failed to construct: {type(exc).__name__}: {exc}") from exc
    for method in ("reset", "act"):
        if not callable(getattr(agent, method, None)):
            raise AgentSpecError(f"agent {spec!r} has no {method}() method; an agent needs reset(task) and "
                                 "act(observation)")
    return agent
