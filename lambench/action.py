"""Actions: the one schema every environment, agent and record shares.

An action is a JSON object with a ``type``.  GUI actions address a control of the
accessibility tree by its label (or its exact name); ``call`` invokes an app's API;
``shell`` runs a command; ``finish`` ends the episode with the agent's claim.

Model output is parsed by :func:`parse_action`, which never raises: anything that is not
a well-formed action comes back as a :class:`ParseResult` with ``action=None`` and the
reason, so the environment can record an *invalid action* and show the reason to the agent.

>>> parse_action('{"type": "click", "target": "7"}').action
Click(type='click', target='7')
>>> parse_action("I think I'm done").error
'no JSON object found in the output; reply with one action as a JSON object, e.g. {"type": "click", "target": "3"}'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_serializer,
                      model_validator)

from lambench.pointer import bare_point as _bare_point
from lambench.pointer import point_call as _point_call

__all__ = ["Action", "AskUser", "Call", "Click", "DoubleClick", "Drag", "Finish", "Hotkey", "OpenApp", "Hover", "Back",
           "Goto", "ParseResult", "Scroll", "Select", "Shell", "TypeText", "Wait", "ACTION_TYPES", "parse_action",
           "action_tool_definitions"]


class _ActionBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


MAX_COORD = 100_000
"""Coordinates are pixels of the screenshot; anything beyond this is not a screen at all."""


def _no_bool(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError("a coordinate is a whole number of pixels, not true/false")
    return v


def _number_as_text(v: Any) -> Any:
    """A number where text is wanted (``"{{ amount }}"`` in a task's gold renders as one): its digits."""
    return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


class _Pointed(_ActionBase):
    """A GUI action aimed at a control by its label or name (``target``), or at a point of the screen (``x``, ``y``
    in pixels of the screenshot, where the sandbox renders one)."""

    target: str | None = Field(default=None, min_length=1, max_length=200)
    """Label of the control (as shown in brackets), or its exact name."""
    x: int | None = Field(default=None, ge=-MAX_COORD, le=MAX_COORD)
    """Pixels from the left edge of the screenshot (instead of a target)."""
    y: int | None = Field(default=None, ge=-MAX_COORD, le=MAX_COORD)
    """Pixels from the top edge of the screenshot (instead of a target)."""

    @field_validator("x", "y", mode="before")
    @classmethod
    def _not_bool(cls, v: Any) -> Any:
        return _no_bool(v)

    @model_validator(mode="after")
    def _one_aim(self) -> "_Pointed":
        point = (self.x is not None, self.y is not None)
        if point[0] != point[1]:
            raise ValueError("give both x and y (pixels of the screenshot), or a target label instead")
        if self.target is None and not point[0] and self._needs_aim:
            raise ValueError("give a target (a control's label) or a point (x and y)")
        if self.target is not None and point[0]:
            raise ValueError("give a target or a point (x and y), not both")
        return self

    _needs_aim = True
    _keep_none_target = False  # scroll's records always had a target (null for the focused window)

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> dict[str, Any]:
        """``type`` first, then what was given: a label action dumps as it did before points existed."""
        d = handler(self)
        out = {"type": d.pop("type")}
        for k, v in d.items():
            if v is None and (k in ("x", "y") or (k == "target" and not self._keep_none_target)):
                continue
            out[k] = v
        return out

    @property
    def point(self) -> tuple[int, int] | None:
        return (self.x, self.y) if self.x is not None and self.y is not None else None


class Click(_Pointed):
    """Click a control (select a list item, press a button, toggle a checkbox), by label or at a point."""

    type: Literal["click"] = "click"


class DoubleClick(_Pointed):
    """Double-click a control or a point: two clicks in a row (a button pressed twice acts twice)."""

    type: Literal["double_click"] = "double_click"


class Drag(_ActionBase):
    """Press at one point of the screen and release at another (in a list: scrolls it by the distance)."""

    type: Literal["drag"] = "drag"
    x: int = Field(ge=-MAX_COORD, le=MAX_COORD)
    y: int = Field(ge=-MAX_COORD, le=MAX_COORD)
    to_x: int = Field(ge=-MAX_COORD, le=MAX_COORD)
    to_y: int = Field(ge=-MAX_COORD, le=MAX_COORD)

    @field_validator("x", "y", "to_x", "to_y", mode="before")
    @classmethod
    def _not_bool(cls, v: Any) -> Any:
        return _no_bool(v)


class TypeText(_ActionBase):
    """Replace the text of an editable control (the focused one when no target is given)."""

    type: Literal["type"] = "type"
    target: str | None = Field(default=None, min_length=1, max_length=200)
    text: str = Field(max_length=20000)

    _as_text = field_validator("text", mode="before")(_number_as_text)

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> dict[str, Any]:
        d = handler(self)
        if d.get("target") is None:
            d.pop("target", None)
        return d


class Select(_ActionBase):
    """Choose an option of a combo box."""

    type: Literal["select"] = "select"
    target: str = Field(min_length=1, max_length=200)
    option: str = Field(max_length=500)

    _as_text = field_validator("option", mode="before")(_number_as_text)


class Scroll(_Pointed):
    """Scroll a list (by label, or the one under a point; the focused window when neither is given)."""

    type: Literal["scroll"] = "scroll"
    target: str | None = Field(default=None, max_length=200)  # (an empty target was always taken)
    direction: Literal["up", "down"] = "down"
    _needs_aim = False
    _keep_none_target = True


class Hotkey(_ActionBase):
    """Press a key combination, e.g. ``ctrl+s`` or ``escape``."""

    type: Literal["hotkey"] = "hotkey"
    keys: str = Field(min_length=1, max_length=50)


class Hover(_Pointed):
    """Move the pointer over an element (by label) or a point, e.g. to open a menu (browser sandboxes)."""

    type: Literal["hover"] = "hover"


class Back(_ActionBase):
    """Go back to the previous page (browser sandboxes)."""

    type: Literal["back"] = "back"


class Goto(_ActionBase):
    """Open a page of the application by its address, e.g. ``/customers/7`` (browser sandboxes; other sites are
    out of reach)."""

    type: Literal["goto"] = "goto"
    url: str = Field(min_length=1, max_length=2000)


class OpenApp(_ActionBase):
    """Open (or focus) an application window."""

    type: Literal["open_app"] = "open_app"
    app: str = Field(min_length=1, max_length=50)


class Call(_ActionBase):
    """Call an application API tool with JSON arguments."""

    type: Literal["call"] = "call"
    tool: str = Field(min_length=1, max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("args")
    @classmethod
    def _json_args(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise ValueError("args must be plain JSON (objects, arrays, strings, finite numbers, booleans, null)") from None
        return v


class Shell(_ActionBase):
    """Run a shell command (shell sandboxes)."""

    type: Literal["shell"] = "shell"
    command: str = Field(min_length=1, max_length=20000)


class Wait(_ActionBase):
    """Let time pass (e.g. while a window is still loading)."""

    type: Literal["wait"] = "wait"


class AskUser(_ActionBase):
    """Ask the user a question when the request leaves something out; their answer is the next observation."""

    type: Literal["ask_user"] = "ask_user"
    question: str = Field(min_length=1, max_length=2000)


class Finish(_ActionBase):
    """End the episode and state the outcome honestly."""

    type: Literal["finish"] = "finish"
    status: Literal["success", "failure", "infeasible"]
    message: str = Field(default="", max_length=5000)


Action = Annotated[
    Union[Click, DoubleClick, Drag, TypeText, Select, Scroll, Hotkey, OpenApp, Call, Shell, Wait, AskUser, Finish,
          Hover, Back, Goto],
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Action)
ACTION_TYPES: dict[str, type[_ActionBase]] = {
    cls.model_fields["type"].default: cls
    for cls in (Click, DoubleClick, Drag, TypeText, Select, Scroll, Hotkey, OpenApp, Call, Shell, Wait, AskUser,
                Finish, Hover, Back, Goto)
}


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Outcome of parsing an agent's output: an action, or the reason there is none."""

    action: Any  # one of the Action classes, or None
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.action is not None


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()
_MAX_TEXT = 200_000


def json_candidates(text: str):
    """JSON objects in ``text``: the whole text, fenced blocks, then any embedded object."""
    stripped = text.strip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            yield json.loads(stripped)
            return
        except (ValueError, RecursionError):
            pass
    for block in _FENCE.findall(text):
        try:
            yield json.loads(block.strip())
        except (ValueError, RecursionError):
            continue
    start = text.find("{")
    tries = 0
    while start != -1 and tries < 50:
        tries += 1
        try:
            obj, _end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            start = text.find("{", start + 1)
            continue
        yield obj
        start = text.find("{", _end)


_NAMED = re.compile(r"\s*(?:`{0,3})\s*([A-Za-z_][\w.]*)\s*(\{.*\})\s*(?:`{0,3})\s*", re.DOTALL)
"""``NAME {json arguments}``: the notation the system prompt lists the actions in (``click {"target": ...}``)."""


def _named_call(text: str) -> dict[str, Any] | None:
    """An output that is exactly ``NAME {args}``, NAME an action type or a dotted app tool, as an action object.

    Only when the arguments are one JSON object without its own ``type``: anything else goes the usual way.
    """
    m = _NAMED.fullmatch(text)
    if m is None or (m.group(1) not in ACTION_TYPES and "." not in m.group(1)):
        return None
    try:
        args = json.loads(m.group(2))
    except (ValueError, RecursionError):
        return None
    if not isinstance(args, dict) or "type" in args:
        return None
    name = m.group(1)
    return {"type": name, **args} if name in ACTION_TYPES else {"type": "call", "tool": name, "args": args}


def _from_tool_call(obj: dict[str, Any]) -> dict[str, Any] | None:
    """Turn an OpenAI-style tool call into an action object, or None if it is not one."""
    fn = obj.get("function") if isinstance(obj.get("function"), dict) else None
    if fn is None and "name" in obj and ("arguments" in obj or "parameters" in obj):
        fn = obj
    if fn is None or not isinstance(fn.get("name"), str):
        return None
    raw_args = fn.get("arguments", fn.get("parameters", {}))
    if isinstance(raw_args, str):
        try:
            raw_args = json.loads(raw_args) if raw_args.strip() else {}
        except ValueError as exc:
            raise _ParseError(f"tool call arguments are not valid JSON ({exc.msg})") from None
    if not isinstance(raw_args, dict):
        raise _ParseError("tool call arguments must be a JSON object")
    name = fn["name"]
    if name in ACTION_TYPES:
        return {"type": name, **raw_args}
    # Any other tool name is an app API tool.
    return {"type": "call", "tool": name, "args": raw_args}


class _ParseError(Exception):
    pass


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int) and p not in ACTION_TYPES)
        # a field's message as it always read; the whole action's (which field to give) without pydantic's prefix
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"].removeprefix("Value error, "))
    return "; ".join(parts)


def _validate(obj: Any) -> ParseResult:
    if isinstance(obj, list):
        if len(obj) != 1:
            return ParseResult(None, f"expected exactly one action, got a list of {len(obj)}")
        obj = obj[0]
    if not isinstance(obj, dict):
        return ParseResult(None, f"an action must be a JSON object, got {type(obj).__name__}")
    try:
        if "type" not in obj or obj.get("type") == "function" or isinstance(obj.get("function"), dict):
            converted = _from_tool_call(obj) or ("type" not in obj and _bare_point(obj)) or None
            if converted is None:
                return ParseResult(
                    None,
                    "the JSON object has no 'type'; expected one of " + ", ".join(ACTION_TYPES),
                )
            obj = converted
        kind = obj.get("type")
        if kind not in ACTION_TYPES:
            return ParseResult(
                None, f"unknown action type {kind!r}; expected one of " + ", ".join(ACTION_TYPES)
            )
        return ParseResult(ACTION_TYPES[kind].model_validate(obj))
    except _ParseError as exc:
        return ParseResult(None, str(exc))
    except ValidationError as exc:
        return ParseResult(None, f"malformed {obj.get('type')} action: {_describe(exc)}")
    except (TypeError, ValueError, RecursionError) as exc:  # hostile input: never crash
        return ParseResult(None, f"could not read the action ({type(exc).__name__})")


def parse_action(output: Any) -> ParseResult:
    """Parse an agent's output into an action without ever raising.

    Accepts an action model, a dict (an action object or an OpenAI-style tool call),
    or text holding a JSON object: bare, in a markdown code fence, or amid prose; or text that is exactly
    ``NAME {arguments}`` (``click {"target": "3"}``, ``mail.send {...}``), the notation the system prompt uses.
    """
    if isinstance(output, _ActionBase):
        return ParseResult(output)
    if isinstance(output, dict) and isinstance(output.get("type"), str) and output["type"] in ACTION_TYPES:
        try:  # fast path: a well-formed action object
            return ParseResult(_ADAPTER.validate_python(output))
        except (ValidationError, TypeError, ValueError, RecursionError):
            pass  # fall through for the detailed error
    if isinstance(output, (dict, list)):
        return _validate(output)
    if isinstance(output, bytes):
        try:
            output = output.decode("utf-8")
        except UnicodeDecodeError:
            return ParseResult(None, "the output is not valid UTF-8 text")
    if not isinstance(output, str):
        return ParseResult(None, f"expected text or a JSON object, got {type(output).__name__}")
    if not output.strip():
        return ParseResult(None, "empty output; reply with one action as a JSON object")
    if len(output) > _MAX_TEXT:
        return ParseResult(None, f"output too long ({len(output)} characters)")
    if output[:1] == "{" and output[-1:] == "}":
        try:  # fast path: the whole output is one well-formed action object
            return ParseResult(_ADAPTER.validate_json(output))
        except (ValidationError, ValueError, RecursionError):
            pass  # fall through: tool calls, prose, detailed errors
    named = _named_call(output) or _point_call(output)
    if named is not None:
        return _validate(named)
    first_error: str | None = None
    for obj in json_candidates(output):
        result = _validate(obj)
        if result.valid:
            return result
        first_error = first_error or result.error
    if first_error:
        return ParseResult(None, first_error)
    return ParseResult(
        None,
        'no JSON object found in the output; reply with one action as a JSON object, '
        'e.g. {"type": "click", "target": "3"}',
    )


def action_tool_definitions(types: tuple[str, ...] | None = None, *, points: bool = False) -> list[dict[str, Any]]:
    """OpenAI-style tool definitions for the action types (all, or those named); a fresh copy each call.

    ``points``: the GUI actions also take a point of the screenshot (``x``, ``y``) instead of a label, as where an
    observation shows a screen; without it (the text observation) they take labels only, as they always did."""
    if types is None and not points:  # every action a text observation can use: not the pointer-only ones
        types = tuple(t for t in ACTION_TYPES if t not in ("double_click", "drag") + BROWSER_ONLY)
    elif types is None:
        types = tuple(t for t in ACTION_TYPES if t not in BROWSER_ONLY)
    return json.loads(_tool_definitions_json(tuple(types) if types is not None else None, points))


_POINTED = ("click", "double_click", "scroll", "type", "hover")
BROWSER_ONLY = ("hover", "back", "goto")
"""Action types only a browser sandbox offers (left out of the default tool lists)."""


@lru_cache(maxsize=32)
def _tool_definitions_json(types: tuple[str, ...] | None, points: bool = False) -> str:
    # Building JSON schemas is slow (~1 ms per action type); do it once per process.
    tools = []
    for name, cls in ACTION_TYPES.items():
        if types is not None and name not in types:
            continue
        schema = cls.model_json_schema()
        props = {k: v for k, v in schema.get("properties", {}).items() if k != "type"}
        for v in props.values():
            v.pop("title", None)
        required = [r for r in schema.get("required", []) if r != "type"]
        description = (cls.__doc__ or "").strip()
        if name in _POINTED and not points:  # labels only: exactly the definitions text observations always had
            props.pop("x", None)
            props.pop("y", None)
            label = {"maxLength": 200, "minLength": 1, "type": "string"}
            if name == "click":
                props = {"target": {"description": "Label of the control (as shown in brackets), or its exact name.",
                                    **label}}
                required, description = ["target"], "Click a control (select a list item, press a button, toggle " \
                                                     "a checkbox)."
            elif name == "hover":
                props = {"target": {"description": "Label of the element (as shown in brackets), or its exact name.",
                                    **label}}
                required, description = ["target"], "Move the pointer over an element."
            elif name == "type":
                props = {"target": label, "text": props["text"]}
                required, description = ["target", "text"], "Replace the text of an editable control."
            elif name == "scroll":
                props = {"target": {"anyOf": [{"maxLength": 200, "type": "string"}, {"type": "null"}],
                                    "default": None}, "direction": props["direction"]}
                description = "Scroll a list (or the focused window when no target is given)."
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": description,
                    "parameters": {"type": "object", "properties": props, "required": required},
                },
            }
        )
    return json.dumps(tools)
