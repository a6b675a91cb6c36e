"""Trajectory datasets: JSONL files, one step per line, checked against a JSON Schema on load.

A step record holds the dataset and trajectory ids, the task id and request, the step
index (and the trajectory's length), the observation the actor saw (text and structured
controls), the gold history (the previous gold actions) and the gold: the action, actions
that are equally right (``alternatives``) and the status (``continue`` or ``finish``).
The schema ships in the package: ``lambench/schemas/replay_step.schema.json``.

Files may be gzip-compressed (``.jsonl.gz``); everything reads and writes both.  A line may hold
at most :data:`MAX_LINE_BYTES` (8 MiB; ``$LAMBENCH_MAX_LINE_BYTES`` or ``max_line_bytes=`` raise it):
a longer one, such as a whole gzip without newlines, stops the load after reading about that much.

>>> ds = load_dataset("tasks/replay/mockos-core.jsonl.gz")     # doctest: +SKIP
>>> len(ds.steps), len(ds.trajectories)                        # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator

from lambench.action import ACTION_TYPES, parse_action
from lambench.errors import LambenchError
from lambench.replay.screens import SCREENS, copy_screenshots, resolve_screenshots  # noqa: F401

__all__ = ["DatasetError", "Dataset", "UnknownTrajectoryError", "load_dataset", "write_dataset", "schema", "validate_step",
           "open_text", "read_lines", "line_limit", "LineTooLong", "size_text",
           "STATUSES", "MAX_LINE_BYTES"]

STATUSES = ("continue", "finish")
MAX_LINE_BYTES = 8 << 20
"""The longest line (in bytes, after decompression) a dataset may hold: a step record is a few KB, and
one line is all that is held in memory while reading.  ``$LAMBENCH_MAX_LINE_BYTES`` overrides it."""
LINE_LIMIT_ENV = "LAMBENCH_MAX_LINE_BYTES"
_MAX_SHOWN = 10


class DatasetError(LambenchError, ValueError):
    """A dataset file that cannot be used; the message names the file, the lines and the fix."""

    def __init__(self, path: str | os.PathLike, problems: list[str], *, hint: str = ""):
        self.path = str(path)
        self.problems = problems
        shown = problems[:_MAX_SHOWN]
        more = f"\n  ... and {len(problems) - _MAX_SHOWN} more" if len(problems) > _MAX_SHOWN else ""
        body = shown[0] if len(shown) == 1 and not more else "\n  " + "\n  ".join(shown) + more
        super().__init__(f"{path}: {body}" + (f"\n{hint}" if hint else ""))


class UnknownTrajectoryError(LambenchError, ValueError):
    """Trajectory ids asked for that the dataset does not hold."""


class LineTooLong(DatasetError):
    """A line (or an imported item) longer than the reader's limit: reading stops there, bad lines skipped or not."""


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of one step record (shipped as ``lambench/schemas/replay_step.schema.json``)."""
    text = resources.files("lambench").joinpath("schemas/replay_step.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def _where(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


_TOP = frozenset(("dataset", "trajectory_id", "task_id", "suite", "variant", "request", "step", "n_steps",
                  "observation", "history", "gold", "tools", "meta"))
_REQUIRED = ("dataset", "trajectory_id", "task_id", "request", "step", "observation", "history", "gold")
_TYPES = frozenset(ACTION_TYPES)


def _str_or_none(x: Any) -> bool:
    return x is None or type(x) is str


def _int(x: Any, low: int) -> bool:
    return type(x) is int and x >= low


def _is_action(a: Any) -> bool:
    return type(a) is dict and type(a.get("type")) is str and a["type"] in _TYPES


def _schema_ok(rec: Any) -> bool:
    """A fast check that implies the JSON Schema holds (jsonschema itself takes ~1.5 ms a record;
    it runs only when this says no, to name the problem)."""
    if type(rec) is not dict or not _TOP.issuperset(rec) or any(k not in rec for k in _REQUIRED):
        return False
    for k in ("dataset", "trajectory_id", "task_id"):
        if type(rec[k]) is not str or not rec[k]:
            return False
    if type(rec["request"]) is not str or not _int(rec["step"], 0):
        return False
    if "n_steps" in rec and not _int(rec["n_steps"], 1):
        return False
    if "suite" in rec and not _str_or_none(rec["suite"]):
        return False
    if "variant" in rec and (type(rec["variant"]) is not str or not rec["variant"]):
        return False
    obs = rec["observation"]
    if type(obs) is not dict or type(obs.get("text")) is not str:
        return False
    for k in ("focused", "error", "result", "screenshot"):
        if k in obs and not _str_or_none(obs[k]):
            return False
    if "controls" in obs:
        controls = obs["controls"]
        if type(controls) is not list:
            return False
        for c in controls:
            if type(c) is not dict or type(c.get("label")) is not str or type(c.get("name")) is not str:
                return False
            if ("role" in c and type(c["role"]) is not str) or ("value" in c and not _str_or_none(c["value"])):
                return False
            opts = c.get("options")
            if opts is not None and (type(opts) is not list or any(type(o) is not str for o in opts)):
                return False
            box = c.get("box")
            if box is not None and (type(box) is not list or len(box) != 4 or any(type(v) is not int for v in box)):
                return False
    history = rec["history"]
    if type(history) is not list or not all(_is_action(a) for a in history):
        return False
    gold = rec["gold"]
    if (type(gold) is not dict or not {"action", "alternatives", "status"}.issuperset(gold)
            or not _is_action(gold.get("action")) or gold.get("status") not in STATUSES):
        return False
    alts = gold.get("alternatives", [])
    if type(alts) is not list or not all(_is_action(a) for a in alts):
        return False
    if "tools" in rec and (type(rec["tools"]) is not list or any(type(t) is not dict for t in rec["tools"])):
        return False
    return "meta" not in rec or type(rec["meta"]) is dict


def validate_step(rec: Any, valid_history: list[Any] | None = None) -> list[str]:
    """Problems with one step record (empty when it is valid): schema errors, then actions that do not parse.

    ``valid_history``: a history already checked (the previous step's of the same trajectory, as loading passes
    it); the actions of ``rec``'s history that equal its prefix are not parsed again.  Parsing every step's whole
    history made loading quadratic in trajectory length (5.7 s for the 25,016 steps of mockos-core, 3 s of it
    re-parsing the same actions)."""
    from jsonschema.exceptions import best_match

    errors = [] if _schema_ok(rec) else list(_validator().iter_errors(rec))
    if errors:
        out = []
        for err in sorted(errors, key=lambda e: list(e.absolute_path))[:3]:
            err = best_match([err]) if err.context else err
            out.append(f"{_where(err.absolute_path)}: {err.message}")
        return out
    problems = [f"{k}: must be a whole number, got {rec[k]!r}" for k in ("step", "n_steps")
                if k in rec and type(rec[k]) is not int]
    if problems:
        return problems
    gold = rec["gold"]
    if gold["action"]["type"] == "finish" and gold["status"] != "finish":
        problems.append("gold.action is finish but gold.status is 'continue' (a finish action ends the trajectory)")
    actions = [("gold.action", gold["action"])]
    actions += [(f"gold.alternatives[{i}]", a) for i, a in enumerate(gold.get("alternatives") or [])]
    history, known = rec["history"], 0
    if valid_history and len(valid_history) <= len(history) and history[:len(valid_history)] == valid_history:
        known = len(valid_history)
    actions += [(f"history[{i}]", history[i]) for i in range(known, len(history))]
    for where, action in actions:
        res = parse_action(action)
        if not res.valid:
            problems.append(f"{where}: {res.error}")
    if gold["status"] == "finish" and "n_steps" in rec and rec["step"] != rec["n_steps"] - 1:
        problems.append(f"gold.status is 'finish' but step {rec['step']} is not the last of {rec['n_steps']}")
    if rec["step"] != len(rec["history"]):
        problems.append(f"history has {len(rec['history'])} actions but this is step {rec['step']} "
                        "(the history holds every earlier gold action)")
    if "n_steps" in rec and rec["step"] >= rec["n_steps"]:
        problems.append(f"step {rec['step']} is not below n_steps {rec['n_steps']}")
    return problems


def open_text(path: str | os.PathLike, mode: str = "r", *, gz: bool | None = None) -> io.TextIOBase:
    """Open a text file, gzip-compressed when its name ends in ``.gz`` (or ``gz`` says so)."""
    path = Path(path)
    if gz if gz is not None else path.suffix == ".gz":
        if "w" in mode:  # mtime=0 and no name inside: the same records give the same bytes
            return io.TextIOWrapper(_ClosingGzip(open(path, "wb")), encoding="utf-8", newline="\n")
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, mode, encoding="utf-8", newline="\n" if "w" in mode else None)


class _ClosingGzip(gzip.GzipFile):
    """A gzip writer that also closes the file it writes to."""

    def __init__(self, raw: Any):
        super().__init__(fileobj=raw, mode="wb", mtime=0, filename="")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


@dataclass
class Dataset:
    """A loaded dataset: its steps (in file order), grouped by trajectory (steps sorted)."""

    path: Path
    steps: list[dict[str, Any]]
    version: str
    """Content hash of the file (what a replay run records, so results on changed data are not mixed)."""
    lines: list[int] = field(default_factory=list)
    """Line number of each step in the file."""
    trajectories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)
    """trajectory_id -> what is missing (such trajectories are replayed but left out of TSR)."""
    skipped: list[str] = field(default_factory=list)
    """Problems of lines skipped with ``skip_bad=True``."""

    @property
    def name(self) -> str:
        names = sorted({s["dataset"] for s in self.steps})
        return names[0] if len(names) == 1 else "+".join(names)

    def line_of(self, step: dict[str, Any]) -> int:
        return self._line_by_id.get(id(step), 0)

    def select(self, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The trajectories ``ids`` name, in that order; :class:`UnknownTrajectoryError` names those it lacks."""
        unknown = [t for t in ids if t not in self.trajectories]
        if unknown:
            raise UnknownTrajectoryError(f"unknown trajectory id(s) in {self.path}: {', '.join(unknown[:5])}")
        return {t: self.trajectories[t] for t in ids}

    def __post_init__(self) -> None:
        self._line_by_id = {id(s): n for s, n in zip(self.steps, self.lines)}


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def size_text(n: int) -> str:
    """A byte count as people write it: ``8 MiB`` when whole mebibytes, else ``1,234 bytes``."""
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n:,} bytes"


def line_limit(path: str | os.PathLike, given: int | None = None, *, default: int = MAX_LINE_BYTES,
               env: str = LINE_LIMIT_ENV) -> int:
    """The line limit to read ``path`` with: ``given``, else ``$LAMBENCH_MAX_LINE_BYTES`` (or ``env``), else
    ``default``; a value that is not a positive whole number raises :class:`DatasetError`."""
    raw: Any = given if given is not None else os.environ.get(env)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value < 1 or isinstance(raw, bool):
        where = "max_line_bytes" if given is not None else f"${env}"
        raise DatasetError(path, [f"{where}={raw!r} is not a positive whole number of bytes "
                                  f"(the default is {default})"])
    return value


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def read_lines(path: str | os.PathLike, *, max_line_bytes: int | None = None, what: str = "a dataset line",
               env: str = LINE_LIMIT_ENV, default: int = MAX_LINE_BYTES) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a text file (gzip when named ``.gz``) with their numbers, each read with a bound.

    A line longer than the limit (see :func:`line_limit`) raises :class:`LineTooLong` naming the file, the
    line and the limit after about ``limit`` bytes were read, never the whole line: a 2 MB gzip can hold a
    2 GB line.  A file that cannot be read or decoded raises :class:`DatasetError`.  Line breaks are ``\\n``, ``\\r\\n`` and ``\\r``, as when reading in text mode.
    """
    path = Path(path)
    limit = line_limit(path, max_line_bytes, env=env, default=default)
    lineno = 0
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as fh:
            while True:
                raw = fh.readline(limit + 1)
                if not raw:
                    return
                if len(raw) > limit and not raw.endswith(b"\n"):
                    raise LineTooLong(path, [
                        f"line {lineno + 1} is longer than {size_text(limit)}, the limit of {what} (is this a JSONL "
                        f"file, one record per line?); split the record, or set {env} to a larger number of bytes "
                        "if it is right"])
                if b"\r" in raw:
                    parts = _LINE_BREAK.split(raw)
                    if not parts[-1]:
                        parts.pop()
                else:
                    parts = [raw[:-1] if raw.endswith(b"\n") else raw]
                for part in parts:
                    lineno += 1
                    line = part.decode("utf-8")
                    if line.strip():
                        yield lineno, line
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        where = f"line {lineno}: " if isinstance(exc, UnicodeDecodeError) else ""
        raise DatasetError(path, [f"{where}cannot read the file ({type(exc).__name__}: {exc})"],
                           hint="Is it a JSONL file (optionally .gz)?") from None


def _dataset_path(path: str | os.PathLike) -> Path:
    """A dataset file, or the name of one lambench ships (``mockos-core``: ``tasks/replay/mockos-core.jsonl.gz``)."""
    from lambench.shipped import shipped_datasets

    given = Path(path)
    if given.is_file():
        return given
    shipped = shipped_datasets()
    if str(path) in shipped:
        return shipped[str(path)]
    raise DatasetError(given, ["no such file"], hint="Give a JSONL dataset file, or the name of a shipped one ("
                       + (", ".join(shipped) or "none installed") + "), or make one with "
                       "`lambench record RUN_DIR --out FILE`.")


def load_dataset(path: str | os.PathLike, *, skip_bad: bool = False, max_line_bytes: int | None = None) -> Dataset:
    """Load and check a dataset; raise :class:`DatasetError` naming each bad line.

    With ``skip_bad`` bad lines are left out (and listed in ``Dataset.skipped``) instead.
    Trajectories with missing steps load, and are listed in ``Dataset.incomplete``.
    A line longer than ``max_line_bytes`` (default :data:`MAX_LINE_BYTES`) always stops the load.
    """
    path = _dataset_path(path)
    problems: list[str] = []
    steps: list[dict[str, Any]] = []
    lines: list[int] = []
    last_history: dict[str, list[Any]] = {}  # the checked history of each trajectory's latest valid step
    for lineno, line in read_lines(path, max_line_bytes=max_line_bytes):
        try:
            rec = json.loads(line)
        except ValueError as exc:
            problems.append(f"line {lineno}: not valid JSON ({exc})")
            continue
        except RecursionError:
            problems.append(f"line {lineno}: not usable JSON (nested too deeply)")
            continue
        known = last_history.get(rec["trajectory_id"]) if type(rec) is dict and type(
            rec.get("trajectory_id")) is str else None
        found = validate_step(rec, known)
        if found:
            problems.extend(f"line {lineno}: {p}" for p in found)
            continue
        last_history[rec["trajectory_id"]] = rec["history"]
        steps.append(rec)
        lines.append(lineno)
    problems += resolve_screenshots(path, steps, lines)
    ds = Dataset(path=path, steps=steps, version=_hash_file(path), lines=lines)
    problems += _group(ds)
    if problems and not skip_bad:
        raise DatasetError(path, problems, hint="Fix the lines named, or pass --skip-bad-lines to leave them out.")
    ds.skipped = problems
    if not ds.steps:
        raise DatasetError(path, ["the dataset has no usable steps"])
    return ds


def _group(ds: Dataset) -> list[str]:
    """Group steps by trajectory; report duplicates and inconsistencies, note missing steps."""
    problems = []
    by_traj: dict[str, dict[int, dict[str, Any]]] = {}
    keep: set[int] = set()
    for rec in ds.steps:
        steps = by_traj.setdefault(rec["trajectory_id"], {})
        if rec["step"] in steps:
            first = ds.line_of(steps[rec["step"]])
            problems.append(f"line {ds.line_of(rec)}: trajectory {rec['trajectory_id']!r} step {rec['step']} "
                            f"appears twice (first on line {first})")
            continue
        steps[rec["step"]] = rec
    for tid, steps in by_traj.items():
        ordered = [steps[i] for i in sorted(steps)]
        first = ordered[0]
        bad = [r for r in ordered if r["task_id"] != first["task_id"] or r["request"] != first["request"]
               or r.get("variant", "clean") != first.get("variant", "clean")]
        if bad:
            problems.append(f"line {ds.line_of(bad[0])}: trajectory {tid!r} changes its task_id, request or variant "
                            f"(line {ds.line_of(first)} has the first)")
            continue
        declared = {r["n_steps"] for r in ordered if "n_steps" in r}
        if len(declared) > 1:
            problems.append(f"line {ds.line_of(ordered[0])}: trajectory {tid!r} declares different n_steps "
                            f"{sorted(declared)}")
            continue
        n = declared.pop() if declared else (ordered[-1]["step"] + 1
                                             if ordered[-1]["gold"]["status"] == "finish" else None)
        have = set(steps)
        missing = [i for i in range(n if n is not None else max(have) + 1) if i not in have]
        if missing or n is None:
            shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
            where = f" (its first step is on line {ds.line_of(ordered[0])})"
            ds.incomplete[tid] = (f"missing step(s) {shown}{where}" if missing else
                                  f"its length is unknown (no n_steps and no step with status finish){where}")
        ds.trajectories[tid] = ordered
        keep.update(id(r) for r in ordered)
    if len(keep) != len(ds.steps):
        pairs = [(s, n) for s, n in zip(ds.steps, ds.lines) if id(s) in keep]
        ds.steps, ds.lines = [p[0] for p in pairs], [p[1] for p in pairs]
        ds.__post_init__()
        for tid in list(ds.trajectories):
            if not all(id(r) in keep for r in ds.trajectories[tid]):
                del ds.trajectories[tid]
    return problems


def write_dataset(records: Iterable[dict[str, Any]], path: str | os.PathLike) -> int:
    """Check and write step records as JSONL (gzip when the name ends in .gz); return how many.

    Screenshots the records name by absolute path (a recorded run's, a loaded dataset's) are copied to
    ``screens/`` next to the file, and the records name them relative to it.

    Raises :class:`DatasetError` (and writes nothing) when a record is invalid.
    """
    records = list(records)
    problems = []
    for i, rec in enumerate(records, start=1):
        problems.extend(f"record {i} ({rec.get('trajectory_id', '?')} step {rec.get('step', '?')}): {p}"
                        for p in validate_step(rec))
    if problems:
        raise DatasetError(path, problems, hint="This is a bug in the producer of these records; please report it.")
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    shots = copy_screenshots(records, path.parent)  # (content-addressed: an image already there is the same)
    tmp = path.with_name(path.name + ".tmp")
    with open_text(tmp, "w", gz=path.suffix == ".gz") as fh:
        for rec in records:
            shot = rec["observation"].get("screenshot")
            if shot in shots:
                rec = {**rec, "observation": {**rec["observation"], "screenshot": shots[shot]}}
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    os.replace(tmp, path)
    return len(records)
