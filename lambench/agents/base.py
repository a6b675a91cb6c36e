"""The agent protocol, the observation agents receive, the optional hooks, and agent specs.

An agent is any object with two methods::

    class MyAgent:
        def reset(self, task: TaskView) -> None: ...
        def act(self, observation: Observation) -> dict | str | Action: ...

``act`` may return an action object, a dict, or text (JSON in any form
:func:`lambench.action.parse_action` accepts).  Output that does not parse is recorded as
an invalid action and shown to the agent as the next observation's ``error``.  The optional hooks an
agent may implement (privileged binding, token usage, the last step's status, ...) are declared, with
their defaults, on :class:`BaseAgent`; subclass it to implement some, or keep a plain class (the harness
reads a plain class's hooks through :func:`hooks`, with the same defaults).

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

__all__ = ["Agent", "AgentSpecError", "BaseAgent", "Observation", "BUILTIN_AGENTS", "hooks", "make_agent"]


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
    image: Any = None
    """The screenshot (image observation modes): an RGB ``uint8`` array of shape (height, width, 3), else None.
    Coordinates in actions are pixels of this image; each control dict then has its ``box`` [x0, y0, x1, y1]."""


@runtime_checkable
class Agent(Protocol):
    def reset(self, task: TaskView) -> None: ...

    def act(self, observation: Observation) -> Any: ...


class BaseAgent:
    """The optional hooks an agent may implement, with what the harness assumes when it does not.

    Subclass it and override what your agent does; everything here is optional except ``reset`` and ``act``
    (the :class:`Agent` protocol). The harness reads the hooks of every agent through :func:`hooks`, so a plain
    class that does not subclass this one works the same way, its missing hooks taking these defaults.
    """

    privileged: bool = False
    """True for an agent that reads the solution (the oracle, scripted attackers): the harness calls
    :meth:`bind` (live runs) or :meth:`bind_trajectory` (offline replay) before :meth:`reset`."""
    last_usage: dict[str, Any] | None = None
    """Set after each ``act``: ``{"tokens_in": int, "tokens_out": int, "cost_usd": float | None}`` of that step
    (the record's token and cost columns)."""
    last_status: str | None = None
    """Offline replay: set to ``"finish"`` in ``act`` to declare that the returned action completes the task
    (datasets whose last step is a real action, as in the LAM paper's data); the harness clears it before each
    step."""
    in_request: bool = False
    """True while ``act`` waits on a model endpoint: a timeout then is the endpoint's (an infrastructure error,
    retried), not the agent's."""

    def reset(self, task: TaskView) -> None:
        raise NotImplementedError

    def act(self, observation: Observation) -> Any:
        raise NotImplementedError

    def bind(self, task: Any, variant: Any = None) -> None:
        """A privileged agent gets the full task (with its gold) and the episode's variant before ``reset``."""
        raise NotImplementedError(f"{type(self).__name__} is privileged but has no bind(task, variant)")

    def bind_trajectory(self, golds: dict[int, dict[str, Any]]) -> bool:
        """Offline replay: a privileged agent gets the dataset's gold of each step (``{step index: gold}``); return
        True when taken. The default (False) makes the replay bind the trajectory's live task instead, when
        installed."""
        return False

    def bind_episode(self, task_id: str, variant: str, seed: int, trial: int) -> None:
        """Live runs: which episode comes next (its key), before ``reset`` (the ``replay:`` agent looks it up)."""


class _PlainAgent(BaseAgent):
    """A plain agent class seen through the hooks: what it defines, else :class:`BaseAgent`'s defaults."""

    def __init__(self, agent: Any):
        self.agent = agent

    privileged = property(lambda self: bool(getattr(self.agent, "privileged", False)))  # type: ignore[assignment]
    last_usage = property(lambda self: getattr(self.agent, "last_usage", None))  # type: ignore[assignment]
    in_request = property(lambda self: bool(getattr(self.agent, "in_request", False)))  # type: ignore[assignment]

    @property  # type: ignore[override]
    def last_status(self) -> str | None:
        return getattr(self.agent, "last_status", None)

    @last_status.setter
    def last_status(self, value: str | None) -> None:
        if hasattr(self.agent, "last_status"):
            self.agent.last_status = value

    def reset(self, task: TaskView) -> None:
        self.agent.reset(task)

    def act(self, observation: Observation) -> Any:
        return self.agent.act(observation)

    def bind(self, task: Any, variant: Any = None) -> None:
        self.agent.bind(task, variant)

    def bind_trajectory(self, golds: dict[int, dict[str, Any]]) -> bool:
        if not hasattr(self.agent, "bind_trajectory"):
            return False
        self.agent.bind_trajectory(golds)
        return True

    def bind_episode(self, task_id: str, variant: str, seed: int, trial: int) -> None:
        if hasattr(self.agent, "bind_episode"):
            self.agent.bind_episode(task_id, variant, seed, trial)


def hooks(agent: Any) -> BaseAgent:
    """``agent`` as a :class:`BaseAgent`: itself when it is one, else a view of a plain class whose missing hooks
    take the defaults (the one place the harness looks at which hooks an agent has)."""
    return agent if isinstance(agent, BaseAgent) else _PlainAgent(agent)


class AgentSpecError(LambenchError, ValueError):
    """An agent spec that names nothing loadable."""


BUILTIN_AGENTS: dict[str, str] = {
    "oracle": "lambench.agents.baseline:OracleAgent",
    "random": "lambench.agents.baseline:RandomAgent",
    "noop-claim": "lambench.agents.baseline:NoopClaimAgent",
    "reckless": "lambench.agents.baseline:RecklessAgent",
    "injection-follower": "lambench.agents.baseline:InjectionFollowerAgent",
    "blind-replay": "lambench.agents.blind:BlindReplayAgent",
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
