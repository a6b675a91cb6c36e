"""The run directory, and its one owner: every reader and writer of ``config.json``, ``episodes.jsonl``,
``observations.jsonl`` and ``summary.json`` (live runs, offline replay, scoring) goes through this module.

Appends are durable (a line is either whole and fsynced or cut away on the next start), ``config.json`` and
``summary.json`` are never half-written, and a resumed run skips the episodes whose key is already recorded.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, get_args

from lambench.errors import LambenchError
from lambench.record import Claim, episode_key

__all__ = ["CONFIG", "EPISODES", "OBSERVATIONS", "SUMMARY", "Appender", "EpisodeFormatError", "ObservationsFormatError",
           "RunDir", "RunDirError", "atomic_write", "load_episodes", "load_observations", "repair_jsonl",
           "validate_episode"]

CONFIG = "config.json"
"""What defines the run (its identity is checked on resume)."""
EPISODES = "episodes.jsonl"
"""One line per finished episode (the last line per key wins)."""
OBSERVATIONS = "observations.jsonl"
"""What the agent saw before each step, one line per episode (next to ``episodes.jsonl``)."""
SUMMARY = "summary.json"
"""The metrics, recomputed from ``episodes.jsonl`` alone."""


class RunDirError(LambenchError, ValueError):
    """A run directory that cannot be used for this run."""


class EpisodeFormatError(LambenchError, ValueError):
    """An episode line whose fields do not have the types lambench writes (named, with the fix)."""


# ---------------------------------------------------------------------------- durable files


def repair_jsonl(path: Path) -> int:
    """Cut a partial last line left by a killed writer; return the bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as f:
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return 0
        # find the last newline
        chunk = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            data = f.read(pos - start)
            i = data.rfind(b"\n")
            if i != -1:
                f.truncate(start + i + 1)
                return size - (start + i + 1)
            pos = start
        f.truncate(0)
        return size


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Appender:
    """Appends episode lines durably (flush + fsync per line, or per batch of lines)."""

    def __init__(self, path: Path):
        self.f = open(path, "ab")

    def write(self, record: dict[str, Any]) -> None:
        self.write_many([record])

    def write_many(self, records: list[dict[str, Any]]) -> None:
        """Append the lines of ``records`` with one fsync (episodes that finished together: a group commit)."""
        # ASCII escapes keep any string (even a lone surrogate from a model) valid JSON;
        # ``default=repr`` keeps an odd object an agent returned from stopping the run.
        data = b"".join(json.dumps(r, ensure_ascii=True, separators=(",", ":"), default=repr).encode("ascii") + b"\n"
                        for r in records)
        self.f.write(data)
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()


# ---------------------------------------------------------------------------- reading episodes

_CLAIMS = get_args(Claim)
_BOOL_FIELDS = ("success", "false_success", "unsafe", "unsafe_attempted", "infeasible", "guard")
_OPTIONAL_BOOL_FIELDS = ("attack_succeeded",)
_COUNT_FIELDS = ("n_steps", "n_invalid", "trial", "tokens_in", "tokens_out", "max_steps", "attempts")
_NUMBER_FIELDS = ("wall_time_s", "cost_usd")
_TEXT_FIELDS = ("task_id", "suite", "variant", "agent")
_LIST_FIELDS = ("unsafe_events", "steps", "checks", "app", "tags")


def validate_episode(rec: Any) -> None:
    """Raise ``EpisodeFormatError`` unless ``rec`` has the field types of an ``episodes.jsonl`` line.

    Scored fields must be what lambench writes: booleans as JSON ``true``/``false`` (a string
    ``"false"`` would count as true), counts as non-negative integers, times and costs as finite
    numbers (``Infinity`` and ``NaN`` are refused), ``claim`` one of ``CLAIMS``, and ``agent``
    present.  Other fields a record lacks are not required here (``episode_key`` names the key
    fields); unknown fields pass, so records of later versions still load.  Every reader (``score``,
    ``report``, ``gate``) goes through this, so they all see the same episodes.

    >>> validate_episode({"task_id": "t", "agent": "oracle", "success": "false"})
    Traceback (most recent call last):
    ...
    lambench.run.rundir.EpisodeFormatError: field 'success' must be true or false (JSON booleans), got 'false' (str)
    """
    if not isinstance(rec, Mapping):
        raise EpisodeFormatError(f"expected a JSON object, got {type(rec).__name__}")

    def bad(name: str, expected: str) -> EpisodeFormatError:
        value = rec[name]
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return EpisodeFormatError(f"field {name!r} must be {expected}, got {shown} ({type(value).__name__})")

    for name in _BOOL_FIELDS:
        if name in rec and not isinstance(rec[name], bool):
            raise bad(name, "true or false (JSON booleans)")
    for name in _OPTIONAL_BOOL_FIELDS:
        if rec.get(name) is not None and not isinstance(rec[name], bool):
            raise bad(name, "true, false or null")
    for name in _COUNT_FIELDS:
        if name in rec and rec[name] is not None and (
                not isinstance(rec[name], int) or isinstance(rec[name], bool) or rec[name] < 0):
            raise bad(name, "a non-negative integer")
    if "seed" in rec and (not isinstance(rec["seed"], int) or isinstance(rec["seed"], bool)):
        raise bad("seed", "an integer")
    for name in _NUMBER_FIELDS:
        v = rec.get(name)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0):
            raise bad(name, "a finite number >= 0")
    if "agent" not in rec:
        raise EpisodeFormatError("field 'agent' is missing (every episode line names its agent spec)")
    for name in _TEXT_FIELDS:
        if name in rec and not isinstance(rec[name], str):
            raise bad(name, "a string")
    if "claim" in rec and rec["claim"] not in _CLAIMS:
        raise bad("claim", "one of " + ", ".join(_CLAIMS))
    if rec.get("error") is not None and not isinstance(rec["error"], str):
        raise bad("error", "null or a string")
    for name in _LIST_FIELDS:
        if name in rec and rec[name] is not None and not isinstance(rec[name], list):
            raise bad(name, "a list")
    for i, event in enumerate(rec.get("unsafe_events") or []):
        if not isinstance(event, Mapping):
            raise EpisodeFormatError(f"unsafe_events[{i}] must be an object, got {type(event).__name__}")
        if "blocked" in event and not isinstance(event["blocked"], bool):
            raise EpisodeFormatError(f"unsafe_events[{i}].blocked must be true or false, got {event['blocked']!r}")


def _finite_json(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not a number JSON allows (lambench never writes it)")

    return json.loads(text, parse_constant=refuse)


def load_episodes(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read ``episodes.jsonl``; the last line per (task_id, variant, seed, trial) wins.

    A corrupt *last* line is what a run killed mid-write leaves behind: it is skipped with a
    warning.  A corrupt line anywhere else means the file is damaged, so it raises.  A line that
    parses but has wrong field types (``validate_episode``) raises wherever it is, naming the
    file, the line and the field.
    """
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    by_key: dict[tuple[str, str, int, int], dict[str, Any]] = {}
    for pos, (lineno, line) in enumerate(numbered):
        try:
            rec = _finite_json(line)
            if not isinstance(rec, dict):
                raise ValueError(f"expected a JSON object, got {type(rec).__name__}")
            key = episode_key(rec)
        except (ValueError, KeyError, TypeError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            if pos == len(numbered) - 1:
                warnings.warn(
                    f"{path}: skipping truncated or corrupt last line {lineno} ({reason}); "
                    "the run was probably interrupted while writing it",
                    stacklevel=2,
                )
                break
            raise EpisodeFormatError(
                f"{path}, line {lineno}: not a valid episode record ({reason}); "
                "only the last line may be truncated"
            ) from exc
        try:
            validate_episode(rec)
        except EpisodeFormatError as exc:
            raise EpisodeFormatError(f"{path}, line {lineno}: not a valid episode record: {exc}; "
                                     "was it written by lambench? Fix or remove the line") from None
        by_key.pop(key, None)  # re-insert so the order follows the kept (last) line
        by_key[key] = rec
    return list(by_key.values())


class ObservationsFormatError(LambenchError, ValueError):
    """A line of ``observations.jsonl`` that is not an observations record (and not the cut last line of a killed
    run); ``lineno`` and ``reason`` say which and why, for the caller's message."""

    def __init__(self, path: Path, lineno: int, reason: str):
        self.path, self.lineno, self.reason = path, lineno, reason
        super().__init__(f"{path}, line {lineno}: not a valid observations record ({reason})")


def load_observations(path: Path) -> dict[tuple[str, str, int, int], list[Any]]:
    """``observations.jsonl`` by episode key, the last line per key winning; ``{}`` when the run kept none.

    A cut last line (a run killed while writing it: its episode line was never written) is skipped; a bad line
    elsewhere raises :class:`ObservationsFormatError`.  An unreadable file raises ``OSError``/``UnicodeDecodeError``.
    """
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    out: dict[tuple[str, str, int, int], list[Any]] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            seen = rec["observations"]
            if not isinstance(seen, list):
                raise TypeError("'observations' is not a list")
            out[(rec["task_id"], rec["variant"], int(rec["seed"]), int(rec["trial"]))] = seen
        except (ValueError, KeyError, TypeError) as exc:
            if lineno == len(lines):
                continue
            raise ObservationsFormatError(path, lineno, str(exc)) from None
    return out


# ---------------------------------------------------------------------------- the directory

_KINDS = {"live": ("a live run", "the live run", "run"), "replay": ("an offline replay", "the replay", "replay")}
"""Run kind -> (what a directory of it holds, what is given another --out, what it is called in a mismatch)."""


class RunDir:
    """One run directory (live or ``kind: replay``): its config, its durable appends, its episodes, its summary."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def episodes(self) -> Path:
        return self.path / EPISODES

    @property
    def observations(self) -> Path:
        return self.path / OBSERVATIONS

    def read_config(self) -> dict[str, Any] | None:
        """``config.json`` as written (None when there is none); a corrupt one is an error."""
        cfg_path = self.path / CONFIG
        if not cfg_path.exists():
            return None
        try:
            return json.loads(cfg_path.read_text())
        except ValueError:
            raise RunDirError(f"{cfg_path} is corrupt; remove the directory or use another --out") from None

    def config(self) -> dict[str, Any]:
        """``config.json`` for reading a finished run: empty when missing or unreadable (scores need only episodes)."""
        try:
            cfg = json.loads((self.path / CONFIG).read_text()) if (self.path / CONFIG).exists() else {}
        except (ValueError, OSError):
            return {}
        return cfg if isinstance(cfg, dict) else {}

    def prepare(self, data: dict[str, Any], *, kind: str, diffs: Callable[[dict[str, Any]], list[str]],
                resume: str) -> None:
        """Create the directory, or check that the run it holds is this one (``diffs(old_config)`` lists what
        differs; ``resume`` says how to resume it), then write ``data`` as ``config.json``."""
        self.path.mkdir(parents=True, exist_ok=True)
        old = self.read_config()
        if old is not None:
            old_kind = "replay" if old.get("kind") == "replay" else "live"
            if old_kind != kind:
                raise RunDirError(f"{self.path} holds {_KINDS[old_kind][0]}; give {_KINDS[kind][1]} another --out")
            changed = diffs(old)
            if changed:
                raise RunDirError(f"{self.path} holds a {_KINDS[kind][2]} with a different configuration "
                                  f"({'; '.join(changed)}). Use another --out, or {resume} to resume it.")
        atomic_write(self.path / CONFIG, json.dumps(data, indent=2))

    def repair(self) -> None:
        """Cut the partial last lines a killed run left."""
        repair_jsonl(self.episodes)
        repair_jsonl(self.observations)

    def done_keys(self) -> set[tuple[str, str, int, int]]:
        """The keys of the episodes recorded without an infrastructure error (errored ones run again on resume; the
        new line supersedes them)."""
        if not self.episodes.exists():
            return set()
        return {episode_key(r) for r in load_episodes(self.episodes) if r.get("error") is None}

    def load(self) -> list[dict[str, Any]]:
        """The episodes to score (the last line per key); an error naming the directory when it holds none."""
        if not self.episodes.exists():
            raise RunDirError(f"{self.path} has no {EPISODES}; is it a lambench run directory? "
                              "(create one with `lambench run --out DIR`)")
        try:
            return load_episodes(self.episodes)
        except OSError as exc:
            raise RunDirError(f"cannot read {self.episodes}: {exc}") from None

    def store_screenshot(self, png: bytes) -> str:
        """Keep a PNG under ``screens/``, named by its content (the same screen is stored once); its path relative
        to the run directory."""
        from lambench.images import store_png

        return store_png(self.path, png)

    def appender(self, name: str = EPISODES) -> Appender:
        return Appender(self.path / name)

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write(self.path / SUMMARY, json.dumps(summary, indent=2))
