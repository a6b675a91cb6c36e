"""The file predicates, for every sandbox whose state has a home directory of files (feature ``files``):
``state["fs"]`` maps a path to its node (a mock-OS node, or a container file's kind, mode and content hash).
Paths resolve as a user types them: ``~`` and relative paths under /home/user."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from lambench.homefs import node_text, norm_path
from lambench.predicate.core import Args, register

__all__ = ["PathArgs", "ContainsArgs", "fs_node", "content_of", "fs_glob", "norm_glob"]


class PathArgs(Args):
    path: str = Field(min_length=1)
    """File path (``~`` and relative paths resolve under /home/user)."""


class ContainsArgs(Args):
    path: str = Field(min_length=1)
    text: str
    case_sensitive: bool = False


def fs_node(state, path):
    return state["fs"].get(norm_path(path))


@register("file_exists", "state", PathArgs, needs="files")
def file_exists(ctx, a):
    """A file or folder exists at ``path``."""
    return (fs_node(ctx.state, a.path) is not None), f"{a.path} {'exists' if fs_node(ctx.state, a.path) else 'is missing'}"


@register("file_absent", "state", PathArgs, needs="files")
def file_absent(ctx, a):
    """Nothing exists at ``path``."""
    node = fs_node(ctx.state, a.path)
    return node is None, f"{a.path} {'is absent' if node is None else 'still exists'}"


def _contains(ctx, a) -> tuple[bool | None, str]:
    node = fs_node(ctx.state, a.path)
    if node is None or node["kind"] == "dir":
        return None, f"{a.path} is not a file"
    text = node_text(node)
    if a.case_sensitive:
        return a.text in text, f"{a.path} contains {a.text!r}: {a.text in text}"
    hit = a.text.lower() in text.lower()
    return hit, f"{a.path} contains {a.text!r}: {hit}"


@register("file_contains", "state", ContainsArgs, needs="files")
def file_contains(ctx, a):
    """The file (or document) at ``path`` exists and its text contains ``text``."""
    hit, detail = _contains(ctx, a)
    return bool(hit), detail


@register("file_not_contains", "state", ContainsArgs, needs="files")
def file_not_contains(ctx, a):
    """The file at ``path`` exists and its text does not contain ``text``."""
    hit, detail = _contains(ctx, a)
    return hit is False, detail


@register("file_unchanged", "state", PathArgs, needs="files")
def file_unchanged(ctx, a):
    """The file or folder at ``path`` is exactly as it was at the start."""
    before = fs_node(ctx.initial, a.path) if ctx.initial else None
    after = fs_node(ctx.state, a.path)
    return before == after, f"{a.path} {'unchanged' if before == after else 'changed'}"


def content_of(node: Any) -> Any:
    """What a file holds, comparable across sandboxes: the content hash of a container file, the text of a
    mock-OS file or document (paragraphs and table cells); None for folders and links."""
    if isinstance(node, (list, tuple)):  # a container manifest entry: [kind, mode, sha or link target]
        return ("sha", node[2]) if node[0] == "file" else None
    if node is None or node.get("kind") not in ("file", "doc"):
        return None
    if node.get("sha") is not None:
        return ("sha", node["sha"])
    return ("text", node_text(node))


def fs_glob(p: str) -> str:
    return norm_glob(p if p.startswith("fs:") else "fs:" + p)



def norm_glob(pattern: str) -> str:
    """Normalise the path of an ``fs:`` pattern (``fs:~/Documents/*`` -> ``fs:/home/user/Documents/*``)."""
    return "fs:" + norm_path(pattern[3:]) if pattern.startswith("fs:") else pattern

