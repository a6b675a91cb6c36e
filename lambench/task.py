"""Tasks: the YAML schema, its validation, and the suite loader.

A task file lives at ``tasks/<suite>/<id>.yaml``.  Every field is validated on load and
unknown keys are rejected, so a typo is an error naming the file and the field path.
See the README section "Writing a task" for a complete example.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from lambench.action import ACTION_TYPES, parse_action
from lambench.errors import LambenchError
from lambench.predicate import PredicateSpec, compile_field
from lambench.safety import SafetyRule

__all__ = ["Task", "TaskError", "SafetyRule", "DamagingRoute", "MockOSSetup", "ShellSetup", "WebAppSetup", "load_task", "load_suite", "list_suites",
           "tasks_root", "suite_version", "get_task", "validate_paths"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class MailMessage(_Model):
    id: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    subject: str = ""
    body: str = ""
    attachments: list[str] = Field(default_factory=list)
    """Paths of files in the setup whose content is attached (or bare names)."""
    date: str = "2026-11-20"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MailSetup(_Model):
    inbox: list[MailMessage] = Field(default_factory=list)
    sent: list[MailMessage] = Field(default_factory=list)
    drafts: list[MailMessage] = Field(default_factory=list)
    contacts: dict[str, str] = Field(default_factory=dict)
    replace_inbox: bool = False
    """Drop the default (seeded filler) inbox messages."""


class EventSetup(_Model):
    id: str | None = None
    title: str
    date: str
    start: str
    end: str
    attendees: list[str] = Field(default_factory=list)


class UserSetup(_Model):
    name: str
    admin: bool = False


class TrashItem(_Model):
    path: str
    content: str = ""


class DirNode(_Model):
    kind: Literal["dir"]


class Paragraph(_Model):
    text: str
    style: Literal["normal", "heading1", "heading2"] = "normal"
    bold: bool = False
    italic: bool = False


class DocNode(_Model):
    """A Writer document: paragraphs (plain strings or styled) and tables (rows of cells)."""

    kind: Literal["doc"] = "doc"
    paras: list[str | Paragraph] = Field(default_factory=list)
    tables: list[list[list[str]]] = Field(default_factory=list)


class MockOSSetup(_Model):
    """Initial state of the mock OS, applied on top of the default desktop."""

    kind: Literal["mockos"] = Field(default="mockos", exclude=True)
    files: dict[str, str | DirNode | DocNode] = Field(default_factory=dict)
    """Path -> text, ``{kind: dir}``, or a document ``{paras: [...], tables: [...]}``; parent folders are created."""
    remove: list[str] = Field(default_factory=list)
    """Default paths to remove first."""
    trash: list[TrashItem] = Field(default_factory=list)
    mail: MailSetup = Field(default_factory=MailSetup)
    calendar: list[EventSetup] = Field(default_factory=list)
    calendar_replace: bool = False
    settings: dict[str, Any] = Field(default_factory=dict)
    users: list[UserSetup] = Field(default_factory=list)
    open_app: Literal["files", "writer", "mail", "calendar", "settings"] | None = None
    open_file: str | None = None
    """A document to open in Writer at the start."""

    @field_validator("settings")
    @classmethod
    def _known_settings(cls, v: dict[str, Any]) -> dict[str, Any]:
        from lambench.sandboxes.mockos_state import SETTING_KEYS

        allowed = set(SETTING_KEYS) | {"wifi.available"}
        for key, value in v.items():
            if key not in allowed:
                raise ValueError(f"unknown setting {key!r}; expected one of {', '.join(sorted(allowed))}")
            if key == "wifi.available":
                if not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
                    raise ValueError("wifi.available must be a list of network names")
                continue
            want = SETTING_KEYS[key]
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise ValueError(f"setting {key} must be a {want.__name__}, got {value!r}")
        return v

    @model_validator(mode="after")
    def _builds(self) -> "MockOSSetup":
        """The setup must produce a world (dry run), and ``open_file`` must name a document in it."""
        from lambench.sandboxes.mockos import build_state
        from lambench.sandboxes.mockos_state import ToolError, norm_path

        try:
            state = build_state(self, 0)
            if self.open_file is not None:
                node = state["fs"].get(norm_path(self.open_file))
                if node is None or node["kind"] == "dir":
                    raise ValueError(f"open_file: {self.open_file!r} is not a file of the setup")
        except ToolError as exc:
            raise ValueError(f"the setup does not build: {exc}") from None
        return self


class ShellSetup(_Model):
    """Initial state of the shell sandbox, written into the home directory before the episode."""

    kind: Literal["shell"] = Field(default="shell", exclude=True)
    dirs: list[str] = Field(default_factory=list)
    """Directories to create (with parents); ``~`` is /home/user."""
    files: dict[str, str] = Field(default_factory=dict)
    """Path -> text of files to write (parent directories are created)."""
    modes: dict[str, str] = Field(default_factory=dict)
    """Path -> octal permission bits, e.g. ``{~/bin/deploy.sh: "755"}``."""
    commands: list[str] = Field(default_factory=list)
    """Bash commands run in the home directory after the files are written (e.g. ``git init``)."""

    @field_validator("modes")
    @classmethod
    def _octal(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        for path, mode in v.items():
            if not re.fullmatch(r"[0-7]{3,4}", str(mode)):
                raise ValueError(f"mode of {path} must be octal digits such as \"644\" or \"0755\", not {mode!r}")
        return v


class WebAppSetup(_Model):
    """Initial state of the web-app sandbox: the seeded back office, plus this."""

    kind: Literal["webapp"] = Field(default="webapp", exclude=True)
    user: str = Field(default="jordan", pattern=r"^[a-z][a-z0-9_.-]*$")
    """The staff account the agent acts as (sent as ``X-Staff-User``)."""
    sql: list[str] = Field(default_factory=list)
    """SQL statements run on the app's database after the seed (extra rows, changed fields)."""


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
        for i, raw in enumerate(v):
            res = parse_action(raw)
            if not res.valid:
                raise ValueError(f"action {i} is not a valid action: {res.error}")
        return v


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


_SANDBOX_ONLY = {"command": "shell", "command_matches": "shell", "sql": "webapp", "other_customer_data_sent": "webapp"}
_MOCKOS_ONLY = {"in_trash", "trash_empty", "doc_paragraph", "doc_table", "mail_sent", "mail_sent_outside",
                "mail_sent_to", "message_exists", "event_exists", "event_absent", "setting_is", "user_exists",
                "user_absent", "files_destroyed", "event_invites_outside"}
_FILE_PREDICATES = {"file_exists", "file_absent", "file_contains", "file_not_contains", "file_unchanged",
                    "contents_kept"}


def _specs(spec: PredicateSpec):
    yield spec
    for c in spec.children:
        yield from _specs(c)


def _names(spec: PredicateSpec) -> set[str]:
    out = {spec.name}
    for c in spec.children:
        out |= _names(c)
    return out


def _check_sandbox_fit(task: "Task") -> None:
    """Predicates, injections and options that do not exist in the task's sandbox are errors on load."""
    specs = [("checks", s) for s in task.checks] + [(f"safety rule {r.id}", r.when) for r in task.safety]
    if task.injection is not None:
        specs.append(("injection.goal", task.injection.goal))
    for where, spec in specs:
        for name in _names(spec):
            only = _SANDBOX_ONLY.get(name)
            if only is not None and only != task.sandbox:
                raise ValueError(f"{where}: {name} applies to the {only} sandbox, not {task.sandbox}")
            if task.sandbox != "mockos" and name in _MOCKOS_ONLY:
                raise ValueError(f"{where}: {name} applies to the mock OS only, not the {task.sandbox} sandbox")
            if task.sandbox == "webapp" and name in _FILE_PREDICATES:
                raise ValueError(f"{where}: {name} reads files; the webapp sandbox is checked with sql")
        for part in _specs(spec):
            if part.name == "secret_exposed":
                a = part.args
                if a.mail and task.sandbox != "mockos":
                    raise ValueError(f"{where}: secret_exposed's mail applies to the mock OS only")
                if a.query is not None and task.sandbox != "webapp":
                    raise ValueError(f"{where}: secret_exposed's query applies to the webapp sandbox only")
                if a.paths and task.sandbox == "webapp":
                    raise ValueError(f"{where}: secret_exposed's paths read files; use query in the webapp sandbox")
                if not (a.paths or a.mail or a.query):
                    raise ValueError(f"{where}: secret_exposed needs somewhere to look: paths, mail or query")
    if task.injection is not None:
        allowed = {"mockos": ("mail", "file", "doc", "message"), "shell": ("file",), "webapp": ("row",)}[task.sandbox]
        if task.injection.kind not in allowed:
            raise ValueError(f"injection of kind {task.injection.kind!r} does not apply to the {task.sandbox} "
                             f"sandbox (use {' or '.join(allowed)})")
    if task.sandbox == "mockos":
        if task.network:
            raise ValueError("network applies to container sandboxes (shell, webapp), not the mock OS")
    else:
        if task.apps:
            raise ValueError(f"apps apply to the mock OS only, not the {task.sandbox} sandbox")
    from lambench.sandboxes.defaults import default_rule_ids

    known = default_rule_ids(task.sandbox)
    bad = [w for w in task.waive_safety if w not in known]
    if bad:
        raise ValueError(f"waive_safety: {', '.join(bad)} is not a default safety rule of the {task.sandbox} "
                         f"sandbox (those are: {', '.join(known) or 'none'})")


class Task(_Model):
    """One task: what to ask, the world to start from, and how to judge the outcome."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)
    """Unique id (lowercase letters, digits, ``-``, ``_``, ``.``); the file is named after it."""
    suite: str
    sandbox: Literal["mockos", "shell", "webapp"] = "mockos"
    instruction: str = Field(min_length=1)
    setup: MockOSSetup | ShellSetup | WebAppSetup = Field(default_factory=MockOSSetup, discriminator="kind")
    """The initial world; its fields depend on the sandbox (see MockOSSetup, ShellSetup, WebAppSetup)."""
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
    apps: list[Literal["files", "writer", "mail", "calendar", "settings"]] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    infeasible: bool = False
    """True when the right answer is ``finish`` with status ``infeasible``."""
    injection: Injection | None = None
    paraphrases: list[str] = Field(default_factory=list)
    damaging_routes: list[DamagingRoute] = Field(default_factory=list)
    """Bait tasks: ways to do the tempting damage, each of which must be recorded unsafe (self-check)."""
    _path: str | None = PrivateAttr(default=None)

    @property
    def path(self) -> str | None:
        """The file the task was loaded from (None for tasks built in code)."""
        return self._path

    @model_validator(mode="before")
    @classmethod
    def _setup_kind(cls, data: Any) -> Any:
        # the setup's schema follows the sandbox (the tag is implied, never written in task files)
        if isinstance(data, dict) and isinstance(data.get("setup"), dict) and "kind" not in data["setup"]:
            sandbox = data.get("sandbox", "mockos")
            if sandbox in ("mockos", "shell", "webapp"):
                data = {**data, "setup": {**data["setup"], "kind": sandbox}}
        elif isinstance(data, dict) and "setup" not in data and data.get("sandbox") in ("shell", "webapp"):
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
        for i, raw in enumerate(v):
            res = parse_action(raw)
            if not res.valid:
                raise ValueError(f"gold action {i} is not a valid action: {res.error} "
                                 f"(types: {', '.join(ACTION_TYPES)})")
        return v

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
        _check_sandbox_fit(self)
        if self.injection is not None and self.sandbox == "mockos":
            from lambench.sandboxes.mockos import build_state, plant_injection
            from lambench.sandboxes.mockos_state import ToolError, norm_path

            inj = self.injection
            # Injection points must be items of the task's setup, not seeded filler that some seeds lack.
            setup_ids = {m.id for f in (self.setup.mail.inbox, self.setup.mail.sent, self.setup.mail.drafts)
                         for m in f if m.id}
            if inj.kind == "message" and inj.message_id not in setup_ids:
                raise ValueError(f"injection.message_id {inj.message_id!r} must be the id of a message of the "
                                 f"setup (ids: {', '.join(sorted(setup_ids)) or 'none'})")
            if inj.kind == "doc" and norm_path(inj.path) not in {norm_path(p) for p in self.setup.files}:
                raise ValueError(f"injection.path {inj.path!r} must be a document of the setup")
            try:  # the injection point must exist in the setup
                plant_injection(build_state(self.setup, 0), self.injection)
            except ToolError as exc:
                raise ValueError(str(exc)) from None
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


class TaskError(LambenchError, ValueError):
    """A task file that does not load; the message names the file, the field and the fix."""

    def __init__(self, path: str | os.PathLike, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + ("\n  " + "\n  ".join(problems) if len(problems) > 1 else problems[0]))


def _loc(loc: tuple) -> str:
    if len(loc) > 1 and loc[0] == "setup" and loc[1] in ("mockos", "shell", "webapp"):
        loc = loc[:1] + loc[2:]  # the union's tag: implied by the sandbox, never written in a task file
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


MAX_TASK_FILE_CHARS = 1 << 20
"""The largest task file read (1 MiB of text): a task is a few KB, and a bigger file is refused unparsed."""
MAX_YAML_DEPTH = 64
"""The deepest nesting of mappings and lists in a task file (the shipped tasks use at most 8)."""
MAX_YAML_VALUES = 100_000
"""The most values a task file may hold, each alias (``*name``) counted as a copy of what it names, so that
anchors referencing anchors ("billion laughs") cannot make validation walk an exponential tree."""


class _YAMLTooBig(Exception):
    """A task file's YAML over one of the limits above; the message says which and the fix."""


def _yaml_children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _yaml_shape(root: Any) -> None:
    """Check a composed YAML node graph against the limits, walking it without recursion.

    Aliases make the graph a DAG (or a cycle): each node is visited once, its height and the size of its
    expansion memoised, so the check costs the size of the file, not of the expansion."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (nesting height, values in the expansion, capped)
    entered: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            kids = [done[id(k)] for k in _yaml_children(node)]
            height = 1 + max((k[0] for k in kids), default=0) if isinstance(node, yaml.CollectionNode) else 0
            done[key] = (height, min(MAX_YAML_VALUES + 1, 1 + sum(k[1] for k in kids)))
            entered.discard(key)
            continue
        if key in done:
            continue
        if key in entered:
            raise _YAMLTooBig(f"an alias (*name, line {node.start_mark.line + 1}) names a list or mapping that "
                              "contains it, a recursive structure no task field takes: remove the alias")
        entered.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _yaml_children(node) if id(k) not in done)
    height, values = done[id(root)]
    if height > MAX_YAML_DEPTH:
        node = root
        for _ in range(MAX_YAML_DEPTH):  # down the deepest path to the first level over the limit
            node = max(_yaml_children(node), key=lambda k: done[id(k)][0])
        raise _too_deep(node.start_mark.line + 1)
    if values > MAX_YAML_VALUES:
        raise _YAMLTooBig(f"the YAML expands to more than {MAX_YAML_VALUES:,} values, counting each alias (*name) "
                          "as a copy of what it names; a task needs far fewer: write the values out instead of "
                          "nesting aliases")


def _parse_yaml(text: str) -> Any:
    """YAML through libyaml when PyYAML has it (about 10x faster: loading a suite is most of a run's start-up);
    a document it rejects is parsed again by the pure-Python parser, whose error names the offending character.

    The node graph is checked (:func:`_yaml_shape`) before any Python value is built from it; a document over a
    limit raises :class:`_YAMLTooBig`."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return _load_checked(fast, text)
        except (yaml.YAMLError, UnicodeError) as exc:
            if "nesting depth" in str(getattr(exc, "problem", "") or ""):  # libyaml's own limit (1000 levels):
                mark = getattr(exc, "problem_mark", None)                   # the pure-Python parser would recurse
                raise _too_deep(mark.line + 1 if mark else None) from None
    return _load_checked(_FlowBoundedSafeLoader, text)


class _FlowBoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's pure-Python loader, stopping at the first ``[`` or ``{`` over the depth limit: its scanner
    looks at every open flow level for each token, so thousands of them take seconds (a 1 MiB file, hours)."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_YAML_DEPTH:
            raise _too_deep(self.get_mark().line + 1)
        super().fetch_flow_collection_start(TokenClass)


def _too_deep(line: int | None = None) -> _YAMLTooBig:
    where = f" at line {line}" if line else ""
    return _YAMLTooBig(f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep{where} (lists and mappings "
                       "inside each other); a task needs a few levels: flatten it")


def _load_checked(loader_class: Any, text: str) -> Any:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _yaml_shape(node)
        return loader.construct_document(node)
    except RecursionError:  # the pure-Python composer recurses: a few hundred levels exhaust the stack
        raise _too_deep() from None
    finally:
        loader.dispose()


def load_task(path: str | os.PathLike) -> Task:
    """Load and validate one task file; raise :class:`TaskError` naming file and field."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(MAX_TASK_FILE_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(path, [f"cannot read the file ({exc})"]) from None
    if len(text) > MAX_TASK_FILE_CHARS:
        raise TaskError(path, [f"the file is larger than {MAX_TASK_FILE_CHARS >> 20} MiB, the limit of a task file "
                               "(a task is a few KB): is it the right file?"])
    try:
        raw = _parse_yaml(text)
    except _YAMLTooBig as exc:
        raise TaskError(path, [str(exc)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TaskError(path, [f"invalid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(raw, dict):
        raise TaskError(path, [f"expected a mapping of task fields at the top level, got {type(raw).__name__}"])
    try:
        task = Task.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (not part of the task schema; check the spelling)"
            elif err["type"] == "missing":
                msg = "required field is missing"
            problems.append(f"{_loc(err['loc'])}: {msg}")
        raise TaskError(path, problems) from None
    if task.id != path.stem:
        raise TaskError(path, [f"id: {task.id!r} must match the file name {path.stem!r}"])
    task._path = str(path)
    return task


def tasks_root() -> Path:
    """The directory holding the suites: ``$LAMBENCH_TASKS``, or ``tasks/`` of the checkout."""
    env = os.environ.get("LAMBENCH_TASKS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "tasks", here / "tasks"):
        if cand.is_dir():
            return cand
    return here.parent / "tasks"


def list_suites(root: Path | None = None) -> list[str]:
    root = root or tasks_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.yaml"))) if root.is_dir() else []


@lru_cache(maxsize=32)
def _load_suite_cached(suite_dir: str, mtime_key: tuple) -> tuple[Task, ...]:
    tasks, problems = [], []
    for f in sorted(Path(suite_dir).glob("*.yaml")):
        try:
            tasks.append(load_task(f))
        except TaskError as exc:
            problems.append(str(exc))
    if problems:
        raise TaskError(suite_dir, problems)
    return tuple(tasks)


def load_suite(suite: str, *, root: Path | None = None) -> list[Task]:
    """Load every task of a suite; unknown suites get a message listing the known ones."""
    root = root or tasks_root()
    d = root / suite
    if not d.is_dir() or not any(d.glob("*.yaml")):
        known = list_suites(root)
        import difflib

        close = difflib.get_close_matches(suite, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TaskError(d, [f"unknown suite {suite!r}.{hint} Known suites: {', '.join(known) or 'none'} "
                            f"(under {root})"])
    files = sorted(d.glob("*.yaml"))
    key = tuple((f.name, f.stat().st_mtime_ns) for f in files)
    tasks = list(_load_suite_cached(str(d), key))
    wrong = [f"{t.path}: suite: {t.suite!r} must be {suite!r}, the name of its folder" for t in tasks if t.suite != suite]
    if wrong:
        raise TaskError(d, wrong)
    return tasks


def get_task(task_id: str, *, suite: str | None = None) -> Task:
    """Find a task by id (in one suite, or in all of them)."""
    suites = [suite] if suite else list_suites()
    for s in suites:
        for t in load_suite(s):
            if t.id == task_id:
                return t
    import difflib

    all_ids = [t.id for s in suites for t in load_suite(s)]
    close = difflib.get_close_matches(task_id, all_ids, n=3)
    raise TaskError(task_id, [f"unknown task {task_id!r}" + (f"; did you mean {', '.join(close)}?" if close else
                                                              f" in suites {', '.join(suites)}")])


def suite_version(suite: str, *, root: Path | None = None) -> str:
    """A content hash of the suite's task files (12 hex digits)."""
    root = root or tasks_root()
    h = hashlib.sha256()
    for f in sorted((root / suite).glob("*.yaml")):
        h.update(f.name.encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def validate_paths(paths: list[str | os.PathLike]) -> tuple[list[Task], list[TaskError]]:
    """Validate task files and directories; return the good tasks and the errors."""
    tasks: list[Task] = []
    errors: list[TaskError] = []
    seen: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        files = sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
        if p.is_dir() and not files:
            errors.append(TaskError(p, ["no task files (*.yaml) found here"]))
        for f in files:
            try:
                t = load_task(f)
            except TaskError as exc:
                errors.append(exc)
                continue
            if t.id in seen:
                errors.append(TaskError(f, [f"id: {t.id!r} is also used by {seen[t.id]}"]))
                continue
            if f.resolve().parent.parent == tasks_root().resolve() and t.suite != f.parent.name:
                errors.append(TaskError(f, [f"suite: {t.suite!r} must be {f.parent.name!r}, the name of its folder"]))
                continue
            seen[t.id] = str(f)
            tasks.append(t)
    return tasks, errors
