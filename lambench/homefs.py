"""Paths and file nodes as a user names them, shared by every sandbox whose state has a home folder of files
and by the file predicates: ``~`` and relative paths resolve under :data:`HOME`, and a node's text is the
same whether it is a plain file or a document."""

from __future__ import annotations

import posixpath
from typing import Any

__all__ = ["HOME", "PathError", "node_text", "norm_path"]

HOME = "/home/user"


class PathError(ValueError):
    """Not a path: empty, blank or not a string."""


def norm_path(path: Any) -> str:
    """Normalise a user path: ``~`` and relative paths resolve under the home directory."""
    if not isinstance(path, str) or not path.strip():
        raise PathError("a path must be a non-empty string")
    p = path.strip()
    if p.startswith("~"):
        p = HOME + p[1:]
    elif not p.startswith("/"):
        p = HOME + "/" + p
    return posixpath.normpath(p)


def node_text(node: dict[str, Any]) -> str:
    """Plain text of a file or document node."""
    if node["kind"] == "doc":
        lines = [p["text"] for p in node["paras"]]
        for table in node.get("tables", []):
            lines.extend(" | ".join(row) for row in table)
        return "\n".join(lines)
    return node.get("text", "")
