"""Loading tasks: one file (validated, errors naming the file and the field), a suite, every suite; the
suite's content hash (``suite_version``).

A task file lives at ``<dir>/<suite>/<id>.yaml``: the built-in suites in ``tasks/`` (shipped in the package, see
:mod:`lambench.shipped`), a user's own under a folder given with ``--tasks-dir`` or ``$LAMBENCH_TASKS_DIR``
(:func:`search_path`).  Every field is validated on load and unknown keys are
rejected, so a typo is an error naming the file and the field path.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lambench.errors import LambenchError
from lambench.sandboxes import registry
from lambench.shipped import shipped_dir
from lambench.task.instances import instance_data, split_id, sweep_seeds
from lambench.task.params import ParamError, is_template
from lambench.task.schema import Task
from lambench.task.yamlsafe import MAX_TASK_FILE_CHARS, YAMLTooBig, parse_yaml

__all__ = ["TASKS_DIR_ENV", "TaskError", "load_task", "load_tasks", "instance_of", "source_data", "load_suite", "list_suites",
           "tasks_root", "tasks_dirs", "search_path", "searched", "extra_tasks_dirs", "suite_dir", "suite_version",
           "get_task", "validate_paths"]


class TaskError(LambenchError, ValueError):
    """A task file that does not load; the message names the file, the field and the fix."""

    def __init__(self, path: str | os.PathLike, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + ("\n  " + "\n  ".join(problems) if len(problems) > 1 else problems[0]))


def _loc(loc: tuple) -> str:
    if len(loc) > 1 and loc[0] == "setup" and loc[1] in registry.names():
        loc = loc[:1] + loc[2:]  # the union's tag: implied by the sandbox, never written in a task file
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(MAX_TASK_FILE_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(path, [f"cannot read the file ({exc})"]) from None
    if len(text) > MAX_TASK_FILE_CHARS:
        raise TaskError(path, [f"the file is larger than {MAX_TASK_FILE_CHARS >> 20} MiB, the limit of a task file "
                               "(a task is a few KB): is it the right file?"])
    try:
        raw = parse_yaml(text)
    except YAMLTooBig as exc:
        raise TaskError(path, [str(exc)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TaskError(path, [f"invalid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(raw, dict):
        raise TaskError(path, [f"expected a mapping of task fields at the top level, got {type(raw).__name__}"])
    return raw


def _validate(path: Path, data: dict[str, Any], template: dict[str, Any] | None = None) -> Task:
    try:
        task = Task.model_validate(data)
    except ValidationError as exc:
        where = f"instance @{data['instance']['seed']}: " if template is not None else ""
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (not part of the task schema; check the spelling)"
            elif err["type"] == "missing":
                msg = "required field is missing"
            problems.append(f"{where}{_loc(err['loc'])}: {msg}")
        raise TaskError(path, problems) from None
    if task.file_id != path.stem:
        raise TaskError(path, [f"id: {task.file_id!r} must match the file name {path.stem!r}"])
    task._path = str(path)
    task._template = template
    return task


def load_tasks(path: str | os.PathLike) -> list[Task]:
    """Load and validate one task file: a fixed task, or each instance of a template's default sweep (see
    :mod:`lambench.task.instances`); raise :class:`TaskError` naming file and field."""
    path = Path(path)
    raw = _read(path)
    if not is_template(raw):
        return [_validate(path, raw)]
    try:
        seeds = sweep_seeds(raw)
    except ParamError as exc:
        raise TaskError(path, [str(exc)]) from None
    return [_instance(path, raw, seed) for seed in seeds]


def _instance(path: Path, raw: dict[str, Any], seed: int) -> Task:
    """Instance ``seed`` of the template ``raw`` (read from ``path``), validated; a parameter that does not sample
    or resolve is a :class:`TaskError` naming the file."""
    try:
        data = instance_data(raw, seed)
    except ParamError as exc:
        raise TaskError(path, [str(exc)]) from None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:  # params of a shape no type takes
        raise TaskError(path, [f"params: cannot sample them ({type(exc).__name__}: {exc}); each parameter is "
                               "NAME: {type: TYPE, OPTION: value, ...} (docs/tasks.md, Templates)"]) from None
    return _validate(path, data, raw)


def load_task(path: str | os.PathLike, *, seed: int | None = None) -> Task:
    """Load and validate one task file: a fixed task, or the instance ``seed`` (default 0) of a template."""
    path = Path(path)
    raw = _read(path)
    if not is_template(raw):
        if seed is not None:
            raise TaskError(path, [f"--seed {seed}: this task has no parameters, so it has no other instances"])
        return _validate(path, raw)
    return _instance(path, raw, seed or 0)


def source_data(task: Task) -> dict[str, Any]:
    """The task as its file writes it: a fixed task's file, or an instance's data with every parameter filled in
    (``instance`` holding the template, the seed and the values)."""
    if task.instance is not None and task._template is not None:
        return instance_data(task._template, task.instance.seed)
    if task.path is None:
        return task.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return _read(Path(task.path))


def instance_of(task: Task, seed: int) -> Task:
    """Another instance of ``task``'s template (any seed); a fixed task has only itself."""
    if task.instance is None or task._template is None:
        raise TaskError(task.id, ["a fixed task has no other instances"])
    return _instance(Path(task.path or task.file_id), task._template, seed)


TASKS_DIR_ENV = "LAMBENCH_TASKS_DIR"
"""Environment variable: more folders of suites (``os.pathsep``-separated), searched after ``--tasks-dir``."""

_cli_dirs: tuple[Path, ...] = ()


def tasks_root() -> Path:
    """The folder of the built-in suites: ``$LAMBENCH_TASKS`` (which replaces them), else the shipped ``tasks``."""
    env = os.environ.get("LAMBENCH_TASKS")
    return Path(env) if env else shipped_dir("tasks")


@contextmanager
def extra_tasks_dirs(dirs: Iterable[str | os.PathLike]) -> Iterator[None]:
    """Look for suites in ``dirs`` first (what ``--tasks-dir`` gives), while the block runs."""
    global _cli_dirs
    saved, _cli_dirs = _cli_dirs, tuple(Path(d) for d in dirs)
    try:
        yield
    finally:
        _cli_dirs = saved


def search_path() -> list[tuple[Path, str]]:
    """Where suites are looked for, in order, each with where it comes from: the ``--tasks-dir`` folders, those of
    ``$LAMBENCH_TASKS_DIR``, then the built-in suites (a folder named twice is searched once)."""
    env = [Path(p) for p in os.environ.get(TASKS_DIR_ENV, "").split(os.pathsep) if p]
    given = [(p, "--tasks-dir") for p in _cli_dirs] + [(p, f"${TASKS_DIR_ENV}") for p in env]
    for path, origin in given:
        if not path.is_dir():
            raise TaskError(path, [f"{origin} names {path}, which is not a directory; give a folder that holds "
                                   "suite folders (DIR/<suite>/<id>.yaml)"])
    builtin = (tasks_root(), "$LAMBENCH_TASKS" if os.environ.get("LAMBENCH_TASKS") else "built-in")
    out, seen = [], set()
    for path, origin in [*given, builtin]:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            out.append((path, origin))
    return out


def tasks_dirs() -> list[Path]:
    """The folders searched for suites, in order (see :func:`search_path`)."""
    return [path for path, _ in search_path()]


def searched() -> str:
    """The folders searched for suites, for messages."""
    return "; ".join(f"{path} ({origin}{'' if path.is_dir() else ', missing'})" for path, origin in search_path())


def _is_suite(d: Path) -> bool:
    return d.is_dir() and any(d.glob("*.yaml"))


def list_suites(root: Path | None = None) -> list[str]:
    """The names of the suites in ``root``, or in every searched folder."""
    roots = [root] if root is not None else tasks_dirs()
    return sorted({p.name for r in roots if r.is_dir() for p in r.iterdir() if _is_suite(p)})


def suite_dir(suite: str, *, root: Path | None = None) -> Path:
    """The folder of ``suite``: in ``root``, or the one searched folder that has it; an unknown suite, or one found
    in two folders, is an error naming the folders searched and the fix."""
    roots = [root] if root is not None else tasks_dirs()
    found = [r / suite for r in roots if _is_suite(r / suite)]
    if len(found) > 1:
        raise TaskError(suite, [f"suite {suite!r} is found in {len(found)} places: {', '.join(map(str, found))}; "
                                "a name must mean one set of task files: rename one suite (its folder and the "
                                "suite: field of its tasks) or leave its folder out of --tasks-dir/"
                                f"${TASKS_DIR_ENV}"])
    if found:
        return found[0]
    import difflib

    known = list_suites(root)
    close = difflib.get_close_matches(suite, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    where = str(root) if root is not None else searched()
    raise TaskError(suite, [f"unknown suite {suite!r}.{hint} Known suites: {', '.join(known) or 'none'}. Looked in: "
                            f"{where}. A suite is a folder DIR/{suite}/ of task files; add DIR with --tasks-dir DIR "
                            f"or ${TASKS_DIR_ENV}"])


@lru_cache(maxsize=32)
def _load_suite_cached(suite_dir: str, mtime_key: tuple) -> tuple[Task, ...]:
    tasks, problems = [], []
    for f in sorted(Path(suite_dir).glob("*.yaml")):
        try:
            tasks.extend(load_tasks(f))
        except TaskError as exc:
            problems.append(str(exc))
    if problems:
        raise TaskError(suite_dir, problems)
    return tuple(tasks)


def load_suite(suite: str, *, root: Path | None = None) -> list[Task]:
    """Load every task of a suite; unknown suites get a message listing the known ones."""
    d = suite_dir(suite, root=root)
    files = sorted(d.glob("*.yaml"))
    key = tuple((f.name, f.stat().st_mtime_ns) for f in files)
    tasks = list(_load_suite_cached(str(d), key))
    wrong = [f"{t.path}: suite: {t.suite!r} must be {suite!r}, the name of its folder" for t in tasks if t.suite != suite]
    if wrong:
        raise TaskError(d, wrong)
    return tasks


def get_task(task_id: str, *, suite: str | None = None) -> Task:
    """Find a task by id (in one suite, or in all of them): a fixed task, an instance ``<template>@<seed>`` (any
    seed), or a template's id alone (its instance @0)."""
    suites = [suite] if suite else list_suites()
    template_id, seed = split_id(task_id)
    for s in suites:  # the file named after the task first: one file to read, and another file's error is no matter
        path = suite_dir(s) / f"{template_id}.yaml"
        if path.is_file():
            raw = _read(path)
            if raw.get("id") == template_id and raw.get("suite") == s:
                if is_template(raw):
                    return _instance(path, raw, seed or 0)
                if seed is None:
                    return _validate(path, raw)
    for s in suites:
        for t in load_suite(s):
            if t.id == task_id:
                return t
            if t.instance is not None and t.instance.template == template_id:
                return instance_of(t, seed or 0)  # an instance outside the default sweep, or the template's first
    import difflib

    all_ids = [t.id for s in suites for t in load_suite(s)]
    close = difflib.get_close_matches(task_id, all_ids, n=3)
    raise TaskError(task_id, [f"unknown task {task_id!r}" + (f"; did you mean {', '.join(close)}?" if close else
                                                              f" in suites {', '.join(suites)}")])


def suite_version(suite: str, *, root: Path | None = None) -> str:
    """A content hash of the suite's task files (12 hex digits)."""
    h = hashlib.sha256()
    for f in sorted(suite_dir(suite, root=root).glob("*.yaml")):
        h.update(f.name.encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def validate_paths(paths: list[str | os.PathLike]) -> tuple[list[Task], list[TaskError]]:
    """Validate task files and directories; return the good tasks and the errors."""
    tasks: list[Task] = []
    errors: list[TaskError] = []
    seen: dict[str, str] = {}
    roots = {d.resolve() for d in tasks_dirs()}
    for p in paths:
        p = Path(p)
        files = sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
        if p.is_dir() and not files:
            errors.append(TaskError(p, ["no task files (*.yaml) found here"]))
        for f in files:
            try:
                loaded = load_tasks(f)
            except TaskError as exc:
                errors.append(exc)
                continue
            t = loaded[0]
            if t.id in seen:
                errors.append(TaskError(f, [f"id: {t.id!r} is also used by {seen[t.id]}"]))
                continue
            if f.resolve().parent.parent in roots and t.suite != f.parent.name:
                errors.append(TaskError(f, [f"suite: {t.suite!r} must be {f.parent.name!r}, the name of its folder"]))
                continue
            seen[t.id] = str(f)
            tasks.extend(loaded)
    return tasks, errors
