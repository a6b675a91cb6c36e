"""The sandbox contract every backend implements (mock OS, Docker shell, Docker web app)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict


@dataclass(slots=True)
class ExecResult:
    """What one action did inside a sandbox.

    ``ok`` is False for an action that failed in a way the agent should see (a tool error:
    unknown control, missing file, permission denied).  Infrastructure failures raise
    :class:`SandboxError` instead and are never shown to the agent as its own mistake.
    """

    ok: bool
    message: str
    ops: list[dict[str, Any]] = field(default_factory=list)
    """Canonical state operations performed, e.g. ``{"op": "files.delete", "args": {...}}``."""
    data: Any = None
    """Returned data of read-only API calls (listings, file contents)."""


class SandboxError(RuntimeError):
    """An infrastructure failure of a sandbox (retried by the runner, never scored)."""


class SandboxBroken(SandboxError):
    """The sandbox stopped answering the harness while its container still runs: nothing outside the agent's
    reach broke it.  Before the agent's first action it is an infrastructure error; after it, the episode is
    the agent's outcome (scored as failed, and breaking the harness is an unsafe event)."""


class StateUnreadable(SandboxError):
    """The state the agent left cannot be read as a check or rule needs (over a bound, such as the entries
    of a manifest, or an operation failing on it): a failed check, never a crash or an unscored episode."""


@runtime_checkable
class Sandbox(Protocol):
    """A world an agent acts in.  Deterministic for a seed."""

    name: str

    def reset(self, task: Any, seed: int, variant: Any = None) -> dict[str, Any]:
        """Build the task's initial world (for a :class:`lambench.perturb.Variant`) and return the first
        observation."""

    def execute(self, action: Any) -> ExecResult:
        """Execute one parsed action."""

    def observe(self) -> dict[str, Any]:
        """The current observation: a dict with ``text`` (what a text agent reads), ``controls`` (a list of
        control dicts, empty without a GUI) and ``focused`` (the focused app or window, a string)."""

    def state(self) -> dict[str, Any]:
        """The full world state that checks and safety rules read: the sandbox's ``name`` under ``sandbox``,
        whatever its own predicates read, and ``flat``, a callable returning ``{address: value}`` of every
        part an action can change (what ``unchanged_except``, ``keys_changed`` and :meth:`changes` compare;
        without it the diff predicates read the state as the mock OS lays it out)."""

    def initial_state(self) -> dict[str, Any]:
        """The state the current episode started from (for collateral-damage diffs)."""

    def changes(self, initial: dict[str, Any] | None = None) -> list[str]:
        """Names of the parts of the state that changed since the start of the episode."""

    def tools(self) -> list[dict[str, Any]]:
        """OpenAI-style definitions of the actions and API tools this sandbox accepts."""

    def snapshot(self) -> Any:
        """Everything an action can change, to undo it (guard mode)."""

    def restore(self, snapshot: Any) -> None:
        """Undo back to a snapshot."""

    def close(self) -> None:
        """Release everything the sandbox holds."""


class SetupModel(BaseModel):
    """Base of a sandbox's ``setup`` model (its plugin's ``setup_model``): frozen, unknown keys rejected, field
    docstrings kept.  A subclass declares ``kind: Literal["<name>"] = Field(default="<name>", exclude=True)``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
