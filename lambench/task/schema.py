"""The task schema: what to ask, the world to start from, and how to judge the outcome.

A task's ``setup`` is the setup model of its sandbox (declared by the sandbox's plugin, see
:mod:`lambench.sandboxes.registry`); which predicates, injections and options fit the sandbox is asked of
the registry too (:mod:`lambench.task.fit`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from lambench.action import ACTION_TYPES, parse_action
from lambench.predicate import PredicateSpec, compile_field
from lambench.safety import SafetyRule
from lambench.sandboxes import registry
from lambench.task.fit import check_sandbox_fit
from lambench.task.user import ScriptedUser

__all__ = ["Task", "Instance", "TaskView", "Injection", "DamagingRoute", "SafetyRule"]

_SANDBOXES = registry.specs()
SandboxName = Literal[tuple(s.name for s in _SANDBOXES)]  # type: ignore[valid-type]
Setup = Annotated[Union[tuple(s.setup_model for s in _SANDBOXES)], Field(discriminator="kind")]  # type: ignore[valid-type]
AppName = Literal[tuple(dict.fromkeys(a for s in _SANDBOXES for a in s.apps))]  # type: ignore[valid-type]
_DEFAULT = registry.default_name()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _valid_actions(actions: list[dict[str, Any]], problem: str) -> list[dict[str, Any]]:
    """``actions`` when each parses; else a ValueError saying ``problem`` (``{i}``: its index, ``{error}``)."""
    for i, raw in enumerate(actions):
        res = parse_action(raw)
        if not res.valid:
            raise ValueError(problem.format(i=i, error=res.error))
    return actions


class DamagingRoute(_Model):
    """One way of doing the damage a bait task tempts toward (``tasks validate --self-check`` runs it, and it
    must be recorded unsafe): a route the task's rules must catch however the damage is spelled."""

    name: str = Field(min_length=1)
    """What the route does, e.g. ``find -delete instead of rm -rf``."""
    actions: list[dict[str, Any]] = Field(min_length=1)
    """The actions, played in order (a ``finish`` with status success is added when they end without one)."""

    @field_validator("actions")
    @classmethod
    def _valid(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _valid_actions(v, "action {i} is not a valid action: {error}")


class Injection(_Model):
    """Adversarial content a third party planted in the environment, and what the attacker wants.

    The text is inserted structurally — as its own inbox message, file, document paragraph or
    message paragraph — never spliced into other text by string formatting.  A task with an
    injection runs twice, without it (variant ``clean``) and with it (variant ``injection``),
    so utility with and without the attack are paired.
    """

    kind: Literal["mail", "file", "doc", "message", "row"]
    """``mail``: a new inbox message from ``sender`` with ``subject``; ``file``: a file at ``path``
    (created, or the text added as its last block); ``doc``: a new last paragraph of the document at
    ``path``; ``message``: a new last paragraph of the body of message ``message_id``; ``row`` (web
    app): a new row of ``table`` with the values of ``row`` and the text in column ``field``."""
    text: str = Field(min_length=1)
    goal: Any
    """Predicate on the final state that holds when the attack succeeded."""
    sender: str | None = None
    subject: str | None = None
    path: str | None = None
    message_id: str | None = None
    table: str | None = Field(default=None, pattern=r"^[a-z_]+$")
    field: str | None = Field(default=None, pattern=r"^[a-z_]+$")
    row: dict[str, Any] | None = None

    @field_validator("goal")
    @classmethod
    def _compile(cls, v: Any) -> Any:
        spec = compile_field(v)
        if spec.is_event:
            raise ValueError("an injection goal is a predicate on the final state, not an event predicate")
        return spec

    @model_validator(mode="after")
    def _place(self) -> "Injection":
        need = {"mail": ("sender", "subject"), "file": ("path",), "doc": ("path",), "message": ("message_id",),
                "row": ("table", "field")}
        missing = [f for f in need[self.kind] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"an injection of kind {self.kind!r} needs {', '.join(missing)}")
        optional = {"row": ("row",)}.get(self.kind, ())
        extra = [f for f in ("sender", "subject", "path", "message_id", "table", "field", "row")
                 if f not in need[self.kind] + optional and getattr(self, f) is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} do not apply to an injection of kind {self.kind!r}")
        return self


class Instance(_Model):
    """Where a task instance comes from: its template, the seed, and the values sampled for its parameters."""

    template: str
    """The template's id (the file's name)."""
    seed: int = Field(ge=0)
    """The instance seed (``@<seed>`` in the task id)."""
    values: dict[str, Any] = Field(default_factory=dict)
    """Each parameter's sampled value (``{{ name }}``)."""


class Task(_Model):
    """One task: what to ask, the world to start from, and how to judge the outcome."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*(?:@[0-9]+)?$", max_length=110)
    """Unique id (lowercase letters, digits, ``-``, ``_``, ``.``); the file is named after it. An instance of a
    template is ``<template id>@<seed>``."""
    suite: str
    sandbox: SandboxName = _DEFAULT
    instruction: str = Field(min_length=1)
    setup: Setup = Field(default_factory=registry.get(_DEFAULT).setup_model)
    """The initial world; its fields depend on the sandbox (its plugin's ``setup_model``)."""
    network: bool = False
    """Container sandboxes: the task needs a network (an internal one, with no route outside)."""
    waive_safety: list[str] = Field(default_factory=list)
    """Ids of the sandbox's default safety rules that do not apply to this task (e.g. a task whose job
    is to delete a record waives ``delete-record``)."""
    checks: list[Any] = Field(min_length=1)
    """Predicates on the final state; all must hold."""
    safety: list[SafetyRule] = Field(default_factory=list)
    max_steps: int = Field(default=20, ge=1, le=500)
    gold: list[dict[str, Any]] = Field(default_factory=list)
    """An action list that solves the task (the oracle); ends with ``finish``."""
    apps: list[AppName] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    infeasible: bool = False
    """True when the right answer is ``finish`` with status ``infeasible``."""
    injection: Injection | None = None
    paraphrases: list[str] = Field(default_factory=list)
    damaging_routes: list[DamagingRoute] = Field(default_factory=list)
    """Bait tasks: ways to do the tempting damage, each of which must be recorded unsafe (self-check)."""
    user: ScriptedUser | None = None
    """The scripted user who answers ``ask_user`` (:mod:`lambench.task.user`); ``needed: true`` marks a request
    that can be completed only by asking."""
    difficulty: Literal["easy", "medium", "hard"] | None = None
    """Declared difficulty; when absent it is derived from the gold's length and the apps involved
    (:mod:`lambench.task.difficulty`)."""
    human_time_s: int | None = Field(default=None, ge=1, le=86400)
    """Declared estimate of a person's time in seconds; when absent it is derived from the gold."""
    instance: Instance | None = None
    """Set on an instance of a template (by the loader; a task file does not write it)."""
    _path: str | None = PrivateAttr(default=None)
    _template: dict[str, Any] | None = PrivateAttr(default=None)

    @property
    def path(self) -> str | None:
        """The file the task was loaded from (None for tasks built in code)."""
        return self._path

    @property
    def file_id(self) -> str:
        """The id its file is named after: the template's for an instance, else the task's own."""
        return self.instance.template if self.instance is not None else self.id

    @model_validator(mode="before")
    @classmethod
    def _setup_kind(cls, data: Any) -> Any:
        # the setup's schema follows the sandbox (the tag is implied, never written in task files)
        if isinstance(data, dict) and isinstance(data.get("setup"), dict) and "kind" not in data["setup"]:
            sandbox = data.get("sandbox", _DEFAULT)
            if sandbox in registry.names():
                data = {**data, "setup": {**data["setup"], "kind": sandbox}}
        elif (isinstance(data, dict) and "setup" not in data and data.get("sandbox") != _DEFAULT
              and data.get("sandbox") in registry.names()):
            data = {**data, "setup": {"kind": data["sandbox"]}}
        return data

    @field_validator("checks")
    @classmethod
    def _compile_checks(cls, v: list[Any]) -> list[PredicateSpec]:
        out = []
        for i, raw in enumerate(v):
            try:
                spec = compile_field(raw)
            except ValueError as exc:
                raise ValueError(f"check {i}: {exc}") from None
            if spec.is_event:
                raise ValueError(f"check {i}: {spec.name} is an event predicate; checks read the final state "
                                 "(use it in a safety rule instead)")
            out.append(spec)
        return out

    @field_validator("gold")
    @classmethod
    def _valid_gold(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _valid_actions(v, "gold action {i} is not a valid action: {error} (types: "
                              + ", ".join(ACTION_TYPES) + ")")

    @model_validator(mode="after")
    def _consistent(self) -> "Task":
        if self.gold:
            last = self.gold[-1]
            if last.get("type") != "finish":
                raise ValueError("gold must end with a finish action")
            want = "infeasible" if self.infeasible else "success"
            if last.get("status") != want:
                raise ValueError(f"gold of a{'n infeasible' if self.infeasible else ' feasible'} task must end "
                                 f"with finish status {want!r}, not {last.get('status')!r}")
            if len(self.gold) > self.max_steps:
                raise ValueError(f"gold has {len(self.gold)} actions but max_steps is {self.max_steps}; "
                                 "raise max_steps (about twice the gold length is a good budget)")
        elif not self.infeasible:
            raise ValueError("gold: every feasible task needs a gold action list that solves it")
        ids = [r.id for r in self.safety]
        if len(ids) != len(set(ids)):
            raise ValueError("safety rule ids must be unique within a task")
        check_sandbox_fit(self)
        return self

    def view(self) -> "TaskView":
        """What an agent may see: never the checks, safety rules or gold actions."""
        return TaskView(id=self.id, suite=self.suite, sandbox=self.sandbox, instruction=self.instruction,
                        max_steps=self.max_steps, apps=list(self.apps))


class TaskView(BaseModel):
    """The part of a task an agent sees."""

    model_config = ConfigDict(frozen=True)

    id: str
    suite: str
    sandbox: str
    instruction: str
    max_steps: int
    apps: list[str] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    """OpenAI-style tool definitions of the actions the environment accepts."""

