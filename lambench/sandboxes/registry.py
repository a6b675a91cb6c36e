"""The sandbox registry: each sandbox is a plugin that declares what the rest of lambench needs to know.

A sandbox is a package whose ``plugin`` module holds ``SANDBOX``, a :class:`SandboxSpec`: its name, the
class that runs it, the model of a task's ``setup``, its predicates, default safety rules, perturbations,
whether it can roll an action back (``--guard``) and whether it runs in containers.  The task schema,
the environment, the runner and the CLI ask this registry; none of them names a sandbox.

Discovery: the built-in sandboxes are the packages under ``lambench/sandboxes/`` that have a
``plugin.py``; a third party adds one through the entry-point group ``lambench.sandboxes``, each
entry point naming a :class:`SandboxSpec`::

    # the other project's pyproject.toml
    [project.entry-points."lambench.sandboxes"]
    mydesk = "mydesk.plugin:SANDBOX"

A spec's name must be unique; its ``setup_model`` carries ``kind: Literal[name]`` (the tag of the task
schema's union of setups, filled in from the task's ``sandbox``, never written in a task file).

>>> default_name() in names() and get(default_name()).can_roll_back
True
"""

from __future__ import annotations

import difflib
import importlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lambench.errors import LambenchError

__all__ = ["SandboxSpec", "UnknownSandbox", "ENTRY_POINT_GROUP", "specs", "names", "get", "default_name",
           "make", "predicates", "predicate_rows", "field_rows", "container_names", "labels_with", "lazy"]

ENTRY_POINT_GROUP = "lambench.sandboxes"


@dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox declares about itself (see the module docstring for how one is found)."""

    name: str
    """The name tasks give in ``sandbox:`` and records keep, e.g. ``mockos``."""
    factory: Callable[[], Any]
    """Makes a new, unstarted sandbox (an object of the :class:`~lambench.sandboxes.base.Sandbox` protocol)."""
    setup_model: type
    """The pydantic model of a task's ``setup`` (a :class:`~lambench.sandboxes.base.SetupModel`)."""
    label: str
    """How messages name it, e.g. ``the mock OS``, ``the shell sandbox``."""
    env_id: str
    """Its Gymnasium environment id, e.g. ``lambench/MockOS-v0``."""
    predicates: str | None = None
    """The module registering the sandbox's own predicates (imported when the plugin is loaded)."""
    features: frozenset[str] = frozenset()
    """What its state offers generic predicates: ``files`` (a home directory: the file predicates and
    secret_exposed's ``paths``), ``mail`` (secret_exposed's ``mail``), ``sql`` (secret_exposed's ``query``)."""
    checked_with: str = ""
    """The predicate its tasks are checked with, suggested when a predicate does not fit it."""
    default_rules: tuple[dict[str, Any], ...] = ()
    """Safety rules added to every task of the sandbox (as written in a task file's ``safety``)."""
    perturbations: tuple[str, ...] = ()
    """Names of the :data:`lambench.perturb.PERTURBATIONS` it can apply."""
    injection_kinds: tuple[str, ...] = ()
    """Kinds of planted injection it supports (``mail``, ``file``, ``doc``, ``message``, ``row``)."""
    apps: tuple[str, ...] = ()
    """Apps a task may name in ``apps`` (the mock OS's windows); empty when the sandbox has none."""
    can_roll_back: bool = False
    """Whether it can undo an action (snapshot/restore): what ``--guard`` needs."""
    screen_boxes: Callable[[list[dict[str, Any]]], list[Any]] | None = None
    """For a sandbox that renders a screen (``screen_size``, ``screen()``, ``screenshot()``): the boxes its layout
    gives an observation's controls (None for a control that does not fit), from the control dicts alone; the
    self-check flags controls a pointing agent could not reach.  Set, the sandbox :attr:`has_screen`."""
    needs_containers: bool = False
    """Whether it runs in containers (a Docker engine and the ``images`` are prepared before a run)."""
    images: tuple[str, ...] = ()
    """Build contexts under ``sandboxes/`` of its container images."""
    seeded: bool = False
    """Whether its initial world depends on the seed (the suite self-check then tries several seeds)."""
    default: bool = False
    """The sandbox of a task that names none (exactly one built-in is)."""
    check_task: Callable[[Any], None] | None = None
    """Extra validation of a loaded task of this sandbox; raises ``ValueError`` naming the field."""
    equivalents: Callable[[dict[str, Any], dict[str, Any]], list[dict[str, Any]]] | None = None
    """The actions equivalent to an action in an observed state (``lambench record``'s alternatives)."""
    relabels: dict[str, str] = field(default_factory=dict)
    """The controls the ``relabel`` perturbation renames (label -> new label): an agent replaying a known
    solution (the oracle) follows them."""
    reckless_actions: tuple[dict[str, Any], ...] = ()
    """The damaging actions the reckless baseline agent plays here before claiming success (empty: it drives
    the sandbox's ``apps`` instead)."""
    derive_damage: Callable[[str], tuple[list[dict[str, Any]], str]] | None = None
    """For the suite self-check: actions destroying the file at an absolute path by a roundabout route (which a
    bait task's rules must catch), and what they do, e.g. ``renamed, then deleted``."""
    setup_example: dict[str, Any] | None = None
    """A task's ``setup`` showing the sandbox's main fields, as written in a task file: docs/tasks.md shows it
    (generated by :mod:`lambench.task.setupdoc`, which validates it with ``setup_model``)."""

    @property
    def has_screen(self) -> bool:
        """Whether it renders a screen: what the image observation modes (``--observation screenshot|both|som``)
        and coordinate actions need."""
        return self.screen_boxes is not None


def lazy(target: str) -> Callable[..., Any]:
    """A callable that imports ``module:name`` on its first call and calls it: what a plugin declares as its
    ``factory`` (or ``equivalents``) without importing its sandbox when the registry loads."""
    module, _, attr = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)

    call.__qualname__ = call.__name__ = f"lazy({target!r})"
    return call


class UnknownSandbox(LambenchError, ValueError):
    """A sandbox name no plugin declares."""


_SPECS: dict[str, SandboxSpec] = {}
_LOCK = threading.RLock()


def _builtin() -> list[SandboxSpec]:
    import lambench.sandboxes as pkg

    found = sorted({p.parent.name for root in pkg.__path__ for p in Path(root).glob("*/plugin.py")})
    return [importlib.import_module(f"{pkg.__name__}.{name}.plugin").SANDBOX for name in found]


def _third_party() -> list[SandboxSpec]:
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)]


def _load() -> dict[str, SandboxSpec]:
    if _SPECS:
        return _SPECS
    with _LOCK:
        if not _SPECS:
            found: dict[str, SandboxSpec] = {}
            for spec in _builtin() + _third_party():
                if not isinstance(spec, SandboxSpec):
                    raise TypeError(f"a sandbox plugin must be a SandboxSpec, not {type(spec).__name__}")
                if spec.name in found:
                    raise ValueError(f"two sandbox plugins are named {spec.name!r}")
                if spec.predicates:
                    importlib.import_module(spec.predicates)
                found[spec.name] = spec
            _SPECS.update(found)
    return _SPECS


def specs() -> list[SandboxSpec]:
    """Every sandbox, the built-in ones first (by name), then those of entry points."""
    return list(_load().values())


def names() -> list[str]:
    return list(_load())


def get(name: str) -> SandboxSpec:
    """The spec of sandbox ``name``; :class:`UnknownSandbox` names the known ones."""
    spec = _load().get(name)
    if spec is None:
        close = difflib.get_close_matches(str(name), _SPECS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownSandbox(f"unknown sandbox {name!r}.{hint} Known sandboxes: {', '.join(_SPECS)}")
    return spec


def default_name() -> str:
    """The sandbox of a task that names none."""
    return next(s.name for s in specs() if s.default)


def make(name: str) -> Any:
    """A new sandbox of kind ``name``."""
    return get(name).factory()


def container_names(sandboxes: Any = None) -> list[str]:
    """The names (sorted) among ``sandboxes`` (default: all) of those that run in containers."""
    pool = names() if sandboxes is None else set(sandboxes)
    return sorted(n for n in pool if get(n).needs_containers)


def labels_with(feature: str) -> str:
    """The labels of the sandboxes offering ``feature`` (for messages), e.g. ``the mock OS``."""
    return " or ".join(s.label for s in specs() if feature in s.features or feature == s.name)


def predicates(sandbox: str | None = None) -> list[Any]:
    """Every predicate a task of ``sandbox`` may use (all of them without one), sorted by name: what
    ``lambench predicates`` lists."""
    from lambench.predicate import PREDICATES

    _load()
    if sandbox is None:
        return [PREDICATES[n] for n in sorted(PREDICATES)]
    spec = get(sandbox)
    return [PREDICATES[n] for n in sorted(PREDICATES)
            if PREDICATES[n].needs is None or PREDICATES[n].needs in spec.features | {spec.name}]


def predicate_rows(sandbox: str | None = None) -> list[dict[str, Any]]:
    """:func:`predicates` as data for authors: each predicate's name, kind (``state``, ``event`` or
    ``combinator``), the sandboxes whose tasks may use it, what it checks (its docstring) and its arguments
    (name, type, whether required, default, description), read from its argument model."""
    rows = []
    for pred in predicates(sandbox):
        usable = [s.name for s in specs() if pred.needs is None or pred.needs in s.features | {s.name}]
        rows.append({"name": pred.name, "kind": pred.kind, "sandboxes": usable, "doc": pred.doc,
                     "args": field_rows(pred.args)})
    return rows


def field_rows(model: Any) -> list[dict[str, Any]]:
    """The fields of a pydantic model as an author writes them: name (its alias), type, whether required,
    default and description (the field's docstring)."""
    if model is None:
        return []
    out = []
    for name, f in model.model_fields.items():
        required = f.is_required()
        if required:
            default = None
        elif f.default_factory is not None:
            default = f.default_factory()
        else:
            default = f.default
        out.append({"name": f.alias or name, "type": _type_name(f.annotation), "required": required,
                    "default": default, "doc": f.description or ""})
    return out


def _type_name(annotation: Any) -> str:
    """``list[str]``, ``str | None``, ``int``: how a task author writes the value (YAML types)."""
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")

