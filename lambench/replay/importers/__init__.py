"""Importers: published trajectory formats -> lambench offline-replay step records.

``import_dataset(fmt, src)`` reads a file or a directory (``*.json``, ``*.jsonl``, optionally
``.gz``, walked recursively in sorted order) and returns an :class:`ImportResult`: valid step
records (every one checked with :func:`~lambench.replay.dataset.validate_step`), the number of
trajectories, and the reasons for everything left out, each naming the file and the line (JSONL)
or the item index (JSON arrays).  Bad input never raises: malformed JSON, wrong types, steps that
cannot be mapped make a line or a trajectory skipped.  Only an unknown format, a missing source
or a source with nothing importable raise :class:`~lambench.replay.dataset.DatasetError`.

One module per source format: :mod:`~lambench.replay.importers.ufo` (the LAM paper's data pipeline) and
:mod:`~lambench.replay.importers.mind2web`, each documenting its mapping; :mod:`~lambench.replay.importers.sources`
reads files with bounds, :mod:`~lambench.replay.importers.common` builds the records.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambench.replay.dataset import DatasetError
from lambench.replay.importers.common import ImportResult
from lambench.replay.importers.mind2web import import_mind2web
from lambench.replay.importers.sources import IMPORT_LIMIT_ENV, MAX_IMPORT_BYTES, read_objects, source_files
from lambench.replay.importers.ufo import import_ufo

__all__ = ["FORMATS", "IMPORTERS", "IMPORT_LIMIT_ENV", "MAX_IMPORT_BYTES", "ImportResult", "dataset_tools",
           "import_dataset", "import_mind2web", "import_ufo", "read_objects"]

IMPORTERS: dict[str, Callable[[Path, str | None], ImportResult]] = {
    "ufo": import_ufo,
    "mind2web": import_mind2web,
}
"""Format name -> importer(source path, dataset name or None for the default)."""

FORMATS = tuple(IMPORTERS)


def import_dataset(fmt: str, src: str | os.PathLike, *, dataset: str | None = None) -> ImportResult:
    """Import a published trajectory format into lambench step records.

    Raises :class:`DatasetError` for an unknown format, a missing source, or a source with
    nothing importable; everything else that is wrong is left out and listed in ``skipped``.
    """
    path = Path(src)
    importer = IMPORTERS.get(fmt) if isinstance(fmt, str) else None
    if importer is None:
        raise DatasetError(path, [f"unknown import format {fmt!r}"], hint=f"Known formats: {', '.join(IMPORTERS)}.")
    if not path.exists():
        raise DatasetError(path, ["no such file or directory"],
                           hint=f"Give a {fmt} file (.json or .jsonl) or a directory of them.")
    if path.is_dir() and not source_files(path):
        raise DatasetError(path, ["the directory holds no .json or .jsonl files"],
                           hint=f"Give a {fmt} file (.json or .jsonl) or a directory of them.")
    result = importer(path, dataset)
    if not result.records:
        raise DatasetError(path, [f"nothing importable as {fmt}", *result.skipped],
                           hint=f"Is this really {fmt} data? The lines above say what was wrong.")
    tools = dataset_tools(result.records)
    for rec in result.records:
        rec["tools"] = tools
    return result


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
               (dict, "object"))


def dataset_tools(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool definitions an actor of these records needed: the action types the golds use, and one
    function per API tool called (its parameters and their JSON types as seen in the data), so an
    agent replaying an imported dataset knows, e.g., that UFO's ``select_text`` exists."""
    from lambench.action import action_tool_definitions

    kinds: set[str] = set()
    calls: dict[str, dict[str, set[str]]] = {}
    for rec in records:
        gold = rec["gold"]
        for a in [gold["action"], *gold.get("alternatives", [])]:
            kinds.add(a["type"])
            if a["type"] == "call":
                params = calls.setdefault(a["tool"], {})
                for k, v in (a.get("args") or {}).items():
                    types = params.setdefault(k, set())
                    if v is not None:
                        types.add(next((n for c, n in _JSON_TYPES if isinstance(v, c)), "string"))
    kinds.add("finish")
    tools = action_tool_definitions(tuple(sorted(kinds - {"call"})))
    for name in sorted(calls):
        props = {k: ({"type": sorted(ts)[0]} if len(ts) == 1 else {"type": sorted(ts)}) if ts else {}
                 for k, ts in sorted(calls[name].items())}
        tools.append({"type": "function", "function": {
            "name": name, "description": f"{name} (an API function recorded in the source data)",
            "parameters": {"type": "object", "properties": props, "required": []}}})
    return tools
