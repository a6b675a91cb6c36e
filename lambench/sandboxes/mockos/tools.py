"""App tools: a World method becomes an API tool by its ``@tool`` declaration, and a call is checked against it.

The tool table is derived from the methods (:func:`tool_table`): the schema sits on the method it describes,
its required arguments are the method's parameters without a default, and the declared properties must be
exactly the method's parameters.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lambench.sandboxes.mockos.core import ToolError

_SPEC = "tool_spec"  # the attribute @tool sets on a method


@dataclass(frozen=True)
class ToolSpec:
    """One API tool: its name, the World method behind it, and its JSON-schema arguments."""

    name: str
    method: str
    description: str
    properties: dict[str, Any]
    required: list[str]

    def definition(self) -> dict[str, Any]:
        """The OpenAI-style function definition of this tool."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object", "properties": self.properties, "required": self.required}}}


def string(**extra: Any) -> dict[str, Any]:
    """Schema of a string argument (``enum``, ``description`` as extra keys)."""
    return {"type": "string", **extra}


def strings() -> dict[str, Any]:
    """Schema of a list of strings (a single string is accepted too)."""
    return {"type": "array", "items": {"type": "string"}}


def tool(name: str, description: str, properties: dict[str, Any] | None = None) -> Callable:
    """Declare a World method as the API tool ``name``; ``properties`` are its arguments' schemas, in the
    order tool definitions list them."""
    props = properties or {}

    def declare(method: Callable) -> Callable:
        params = list(inspect.signature(method).parameters.values())[1:]
        if {p.name for p in params} != set(props):
            raise TypeError(f"tool {name}: properties {sorted(props)} must be the parameters of "
                            f"{method.__name__} {sorted(p.name for p in params)}")
        required = [p.name for p in params if p.default is inspect.Parameter.empty]
        setattr(method, _SPEC, ToolSpec(name, method.__name__, description, props, required))
        return method

    return declare


def tool_table(cls: type) -> dict[str, ToolSpec]:
    """Every tool declared on ``cls`` and its bases, by name, in the order of the bases then of definition."""
    table: dict[str, ToolSpec] = {}
    for klass in cls.__mro__:
        for member in vars(klass).values():
            spec = getattr(member, _SPEC, None)
            if isinstance(spec, ToolSpec):
                table.setdefault(spec.name, spec)
    return table


def invoke(table: dict[str, ToolSpec], obj: Any, tool_name: str, args: dict[str, Any]) -> Any:
    """Call tool ``tool_name`` of ``table`` on ``obj``; unknown tools and bad arguments raise ToolError."""
    spec = table.get(tool_name)
    if spec is None:
        close = fnmatch.filter(table, f"*{tool_name.split('.')[-1]}*")
        hint = f" Did you mean {', '.join(close[:3])}?" if close else ""
        raise ToolError(f"unknown tool {tool_name!r}.{hint} Tools: {', '.join(table)}")
    props = spec.properties
    missing = [r for r in spec.required if r not in args]
    if missing:
        raise ToolError(f"{tool_name} is missing argument(s): {', '.join(missing)}")
    unknown = [a for a in args if a not in props]
    if unknown:
        raise ToolError(f"{tool_name} got unknown argument(s): {', '.join(unknown)}; "
                        f"it takes {', '.join(props) or 'none'}")
    for name, value in args.items():
        problem = _type_problem(value, props[name])
        if problem:
            raise ToolError(f"{tool_name}: argument {name!r} {problem}")
    return getattr(obj, spec.method)(**args)


_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**53,
}


def _type_problem(value: Any, schema: dict[str, Any]) -> str | None:
    """Why ``value`` does not fit the JSON-schema ``schema`` (string/boolean/integer/array/enum), or None."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "array" in kinds:
        item = schema.get("items", {}).get("type", "string")
        # A single string is accepted where a list of strings is expected (e.g. one recipient).
        if isinstance(value, str) and item == "string":
            return None
        if not isinstance(value, list) or not all(_JSON_TYPES[item](v) for v in value):
            return f"must be a list of {item}s"
        return None
    if not any(_JSON_TYPES[k](value) for k in kinds):
        return f"must be {' or '.join(kinds)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"must be one of {', '.join(map(str, schema['enum']))}"
    return None
