"""The mock OS world's vocabulary: its error, paths and nodes, shared by every app.

The state is a dict of plain Python values (fast to copy, trivially serialisable):

- ``fs``: absolute path -> node; a node is ``{"kind": "dir"}``, ``{"kind": "file", "text": str}``
  or a Writer document ``{"kind": "doc", "paras": [...], "tables": [...]}``.
- ``trash``: deleted entries ``{"name", "orig", "nodes": {relpath: node}}``.
- ``mail``: ``me``, ``domain``, ``inbox``/``sent``/``drafts`` message lists, ``contacts``.
- ``calendar``: ``events`` list.
- ``settings``: flat keys (``firewall.enabled`` ...), and ``users``.
"""

from __future__ import annotations

import posixpath
from typing import Any

from lambench import homefs
from lambench.homefs import node_text  # noqa: F401  (the apps read nodes through core)

HOME = homefs.HOME
PROTECTED_PREFIXES = ("/system", "/home/user/.ssh")
STANDARD_DIRS = ("/", "/home", HOME, f"{HOME}/Documents", f"{HOME}/Downloads", f"{HOME}/Desktop",
                 f"{HOME}/Pictures")
APPS = ("files", "writer", "mail", "calendar", "settings")


class ToolError(Exception):
    """A failed app operation; its message is shown to the agent."""


def norm_path(path: Any) -> str:
    """Normalise a user path (:func:`lambench.homefs.norm_path`); a bad one is the agent's :class:`ToolError`."""
    try:
        return homefs.norm_path(path)
    except homefs.PathError as exc:
        raise ToolError(str(exc)) from None


def make_doc(text: str) -> dict[str, Any]:
    paras = [
        {"text": line, "style": "normal", "bold": False, "italic": False}
        for line in text.split("\n")
    ]
    return {"kind": "doc", "paras": paras, "tables": []}


def make_node(path: str, content: Any) -> dict[str, Any]:
    """A node for ``path`` from setup content: a string, or a mapping describing a doc."""
    if isinstance(content, dict):
        if content.get("kind") == "dir":
            return {"kind": "dir"}
        paras = []
        for p in content.get("paras", []):
            if isinstance(p, str):
                p = {"text": p}
            paras.append(
                {
                    "text": p["text"],
                    "style": p.get("style", "normal"),
                    "bold": bool(p.get("bold", False)),
                    "italic": bool(p.get("italic", False)),
                }
            )
        return {"kind": "doc", "paras": paras, "tables": [list(map(list, t)) for t in content.get("tables", [])]}
    text = "" if content is None else str(content)
    if path.endswith(".doc"):
        return make_doc(text)
    return {"kind": "file", "text": text}


def clone_node(node: dict[str, Any]) -> dict[str, Any]:
    if node["kind"] == "doc":
        return {
            "kind": "doc",
            "paras": [dict(p) for p in node["paras"]],
            "tables": [[list(r) for r in t] for t in node.get("tables", [])],
        }
    return dict(node)


def split_addresses(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items = value.replace(";", ",").split(",")
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        raise ToolError("recipients must be a string or a list of addresses")
    out = [i.strip() for i in items if i.strip()]
    for addr in out:
        if "@" not in addr or " " in addr:
            raise ToolError(f"{addr!r} is not an email address")
    return out


# ----------------------------------------------------------------------------- path guards


def parent_must_exist(fs: dict, path: str) -> None:
    parent = posixpath.dirname(path)
    if fs.get(parent, {}).get("kind") != "dir":
        raise ToolError(f"folder {parent} does not exist")


def check_writable(path: str) -> None:
    """Refuse changes to protected paths, to anything inside them, and to folders that contain them."""
    for prefix in PROTECTED_PREFIXES:
        if path == prefix or path.startswith(prefix + "/") or prefix.startswith(path.rstrip("/") + "/"):
            raise ToolError(f"permission denied: {path} is or contains a protected system path")


def check_movable(path: str) -> None:
    """Standard folders (home, Documents, ...) cannot be deleted, renamed or moved."""
    check_writable(path)
    if path in STANDARD_DIRS:
        raise ToolError(f"{path} is a standard folder and cannot be deleted, renamed or moved")


def subtree(fs: dict, path: str) -> list[str]:
    pre = path.rstrip("/") + "/"
    return [p for p in fs if p == path or p.startswith(pre)]


def get_node(fs: dict, path: str) -> dict[str, Any]:
    node = fs.get(path)
    if node is None:
        raise ToolError(f"no such file or folder: {path}")
    return node


def get_doc(fs: dict, path: str) -> dict[str, Any]:
    node = get_node(fs, path)
    if node["kind"] == "dir":
        raise ToolError(f"{path} is a folder, not a document")
    return node
