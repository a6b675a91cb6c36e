"""The shell sandbox's file system as checks and safety rules read it.

The state of the sandbox lives in the container, so checks read it there: :class:`LiveFs` reads one file when a
predicate asks for it, :class:`FrozenFs` holds the manifest of the start of the episode (kind, mode and content
hash of every path) for collateral-damage diffs and ``file_unchanged``.  Nodes compare by kind, mode and content
hash, whichever side they come from.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["Node", "manifest_node", "FrozenFs", "LiveFs"]


class Node(dict):
    """A file-system node: ``kind`` (file, dir, link), ``mode``, ``sha`` (and ``text`` when read live)."""

    def _key(self) -> tuple:
        return self.get("kind"), self.get("mode"), self.get("sha"), self.get("target")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):
            return self._key() == Node(other)._key()
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]


def manifest_node(entry: list[Any]) -> Node:
    kind, mode, extra = entry
    node = Node(kind=kind, mode=mode)
    if kind == "file":
        node["sha"] = extra
    elif kind == "link":
        node["target"] = extra
    return node


class FrozenFs:
    """The file system as it was (from a manifest): ``get(path)`` -> :class:`Node` or None."""

    def __init__(self, manifest: dict[str, list[Any]]):
        self.manifest = manifest

    def get(self, path: str, default: Any = None) -> Any:
        entry = self.manifest.get(path.rstrip("/") or "/")
        return default if entry is None else manifest_node(entry)

    def items(self):
        return ((p, manifest_node(e)) for p, e in self.manifest.items())


class LiveFs:
    """The container's file system now: ``get(path)`` reads the node (and a file's text) on demand."""

    def __init__(self, read: Callable[[str], dict[str, Any]], manifest: Callable[[], dict[str, list[Any]]]):
        self._read = read
        self._manifest = manifest

    def get(self, path: str, default: Any = None) -> Any:
        r = self._read(path.rstrip("/") or "/")
        if not r.get("kind"):
            return default
        node = Node(kind=r["kind"], mode=r["mode"])
        if r["kind"] == "file":
            node["sha"] = r.get("sha")
            node["text"] = r.get("text", "")
        elif r["kind"] == "link":
            node["target"] = r.get("target")
        return node

    def items(self):
        return ((p, manifest_node(e)) for p, e in self._manifest().items())
