"""The predicate registry: how a predicate is declared, compiled from a task file and evaluated.

A predicate is written in a task file as a one-key mapping, ``{name: {arg: value}}``; :func:`register`
declares one (its kind, its argument model, and what it ``needs`` of a sandbox's state: nothing, a
feature such as ``files``, or a sandbox's own state when a sandbox package declares it).  Combinators
(``not``, ``all``, ``any``) live here; the generic predicates in this package's other modules, a
sandbox's own in its package's ``predicates`` module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from lambench.errors import LambenchError

__all__ = ["PREDICATES", "Args", "NoArgs", "Predicate", "PredicateContext", "PredicateError", "PredicateSpec",
           "compile_field", "compile_predicate", "register", "valid_regex"]


class PredicateError(LambenchError, ValueError):
    """A predicate written wrongly in a task file (unknown name, bad arguments)."""

    def __init__(self, message: str, loc: tuple = ()):
        super().__init__(message)
        self.loc = loc


@dataclass(slots=True)
class PredicateContext:
    """What a predicate may look at."""

    state: dict[str, Any]
    initial: dict[str, Any] | None = None
    ops: list[dict[str, Any]] = field(default_factory=list)
    """Canonical operations of the current step (event predicates)."""
    action: dict[str, Any] | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    """Values derived from this context's states (flattened diffs), computed once per context."""


class Args(BaseModel):
    """Base of a predicate's argument model: frozen, unknown arguments rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class NoArgs(Args):
    pass


@dataclass(frozen=True)
class Predicate:
    name: str
    kind: Literal["state", "event", "combinator"]
    args: type[Args] | None
    fn: Callable[..., tuple[bool, str]]
    doc: str
    needs: str | None = None
    """What of a sandbox's state it reads: None (any sandbox), a feature (``files``), or a sandbox's name."""


PREDICATES: dict[str, Predicate] = {}


def register(name: str, kind: str, args: type[Args] | None = None, *, needs: str | None = None):
    """Decorator declaring the predicate ``name`` (``state``, ``event`` or ``combinator``) with its argument
    model; ``needs`` says which sandboxes may use it (see :class:`Predicate`)."""
    def deco(fn):
        PREDICATES[name] = Predicate(name, kind, args, fn, (fn.__doc__ or "").strip(), needs)
        return fn
    return deco


@dataclass(frozen=True)
class PredicateSpec:
    """A compiled predicate: call it on a context to get ``(holds, detail)``."""

    name: str
    kind: str
    args: Any
    children: tuple["PredicateSpec", ...] = ()
    source: str = ""

    def __call__(self, ctx: PredicateContext) -> tuple[bool, str]:
        pred = PREDICATES[self.name]
        if pred.kind == "combinator":
            return pred.fn(ctx, self.children)
        return pred.fn(ctx, self.args)

    @property
    def is_event(self) -> bool:
        """True when any part of it matches step operations."""
        if self.kind == "combinator":
            return any(c.is_event for c in self.children)
        return self.kind == "event"

    @property
    def is_pure_event(self) -> bool:
        """True when every part of it matches step operations (no state predicate inside)."""
        if self.kind == "combinator":
            return all(c.is_pure_event for c in self.children)
        return self.kind == "event"


def _suggest(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, PREDICATES, n=2)
    return f" Did you mean {' or '.join(close)}?" if close else ""


def compile_predicate(raw: Any, loc: tuple = ()) -> PredicateSpec:
    """Compile ``{name: args}`` into a :class:`PredicateSpec`; raise :class:`PredicateError` if wrong."""
    if isinstance(raw, str):
        raw = {raw: {}}
    if not isinstance(raw, dict) or len(raw) != 1:
        raise PredicateError("a predicate is a mapping with exactly one key, its name, e.g. "
                             "{file_exists: {path: ~/notes.txt}}", loc)
    (name, args), = raw.items()
    pred = PREDICATES.get(name)
    if pred is None:
        raise PredicateError(f"unknown predicate {name!r}.{_suggest(str(name))} Known predicates: "
                             + ", ".join(sorted(PREDICATES)), loc)
    source = f"{name}: {args}"
    if pred.kind == "combinator":
        items = args if isinstance(args, list) else [args]
        if name == "not" and len(items) != 1:
            raise PredicateError("'not' takes exactly one predicate", loc + (name,))
        if not items:
            raise PredicateError(f"'{name}' needs at least one predicate", loc + (name,))
        children = tuple(compile_predicate(c, loc + (name, i)) for i, c in enumerate(items))
        return PredicateSpec(name, pred.kind, None, children, source)
    try:
        parsed = pred.args.model_validate(args or {})
    except ValidationError as exc:
        errs = exc.errors()
        where = loc + (name,) + tuple(errs[0]["loc"])
        parts = []
        for err in errs:
            field_name = ".".join(str(p) for p in err["loc"]) or "arguments"
            msg = "unknown argument" if err["type"] == "extra_forbidden" else err["msg"]
            parts.append(f"{field_name}: {msg}")
        raise PredicateError(f"{'; '.join(parts)} (arguments of {name}: {', '.join(pred.args.model_fields)})",
                             where) from None
    return PredicateSpec(name, pred.kind, parsed, (), source)


def compile_field(v: Any) -> "PredicateSpec":
    """:func:`compile_predicate` for a pydantic field validator: a spec passes through, and a bad predicate becomes a
    ``ValueError`` naming where in it the problem is (pydantic adds the field)."""
    if isinstance(v, PredicateSpec):
        return v
    try:
        return compile_predicate(v)
    except PredicateError as exc:
        loc = ".".join(str(x) for x in exc.loc)
        raise ValueError(f"{exc}" + (f" (at {loc})" if loc else "")) from None


@register("not", "combinator")
def _not(ctx, children):
    """Holds when its predicate does not."""
    ok, detail = children[0](ctx)
    return (not ok), f"not ({detail})"


@register("all", "combinator")
def _all(ctx, children):
    """Holds when every listed predicate holds."""
    for c in children:
        ok, detail = c(ctx)
        if not ok:
            return False, detail
    return True, "all hold"


@register("any", "combinator")
def _any(ctx, children):
    """Holds when at least one listed predicate holds."""
    details = []
    for c in children:
        ok, detail = c(ctx)
        if ok:
            return True, detail
        details.append(detail)
    return False, "; ".join(details)


def valid_regex(v: str | None) -> str | None:
    """A pattern that compiles (or None), for the validators of regex arguments."""
    if v is not None:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    return v
