"""Reading a task file's YAML safely: bounded in size, nesting depth and alias expansion, checked on the node
graph before any Python value is built."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_TASK_FILE_CHARS", "MAX_YAML_DEPTH", "MAX_YAML_VALUES", "YAMLTooBig", "parse_yaml"]


MAX_TASK_FILE_CHARS = 1 << 20
"""The largest task file read (1 MiB of text): a task is a few KB, and a bigger file is refused unparsed."""
MAX_YAML_DEPTH = 64
"""The deepest nesting of mappings and lists in a task file (the shipped tasks use at most 8)."""
MAX_YAML_VALUES = 100_000
"""The most values a task file may hold, each alias (``*name``) counted as a copy of what it names, so that
anchors referencing anchors ("billion laughs") cannot make validation walk an exponential tree."""


class YAMLTooBig(Exception):
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
            raise YAMLTooBig(f"an alias (*name, line {node.start_mark.line + 1}) names a list or mapping that "
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
        raise YAMLTooBig(f"the YAML expands to more than {MAX_YAML_VALUES:,} values, counting each alias (*name) "
                          "as a copy of what it names; a task needs far fewer: write the values out instead of "
                          "nesting aliases")


def parse_yaml(text: str) -> Any:
    """YAML through libyaml when PyYAML has it (about 10x faster: loading a suite is most of a run's start-up);
    a document it rejects is parsed again by the pure-Python parser, whose error names the offending character.

    The node graph is checked (:func:`_yaml_shape`) before any Python value is built from it; a document over a
    limit raises :class:`YAMLTooBig`."""
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


def _too_deep(line: int | None = None) -> YAMLTooBig:
    where = f" at line {line}" if line else ""
    return YAMLTooBig(f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep{where} (lists and mappings "
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
