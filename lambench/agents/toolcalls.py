"""Reading a tool call out of a model's raw text, whichever of the common formats it uses.

Chat templates of open models print tool calls in their own syntax; :func:`extract_tool_call`
turns each into one object that :func:`lambench.action.parse_action` understands:

- plain JSON: an action object (``{"type": "click", ...}``) or a call ``{"name", "arguments"}``;
- Hermes / Qwen: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``;
- xLAM: a JSON list of calls ``[{"name": ..., "arguments": {...}}]`` (or ``{"tool_calls": [...]}``);
- Llama 3.1: ``<|python_tag|>{"name": ..., "parameters": {...}}`` (and without the tag);
- Mistral: ``[TOOL_CALLS] [{"name": ..., "arguments": {...}}]`` or ``[TOOL_CALLS]name[ARGS]{...}``.

More than one call is not one action: the result is then the whole list, which parses as an
invalid action with a clear reason (an agent acts one step at a time).
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["extract_tool_call"]

_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_MISTRAL_ARGS = re.compile(r"\[TOOL_CALLS\]\s*([A-Za-z0-9_.\-]+)\s*\[ARGS\]\s*(.*)", re.DOTALL)
_SPECIAL = re.compile(r"<\|(?:eom_id|eot_id|im_end|end|endoftext)\|>|</s>|<end_of_turn>")


def _load(text: str) -> Any:
    text = text.strip()
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    dec = json.JSONDecoder()
    for i, ch in enumerate(text):  # the first JSON value in the text
        if ch in "[{":
            try:
                return dec.raw_decode(text, i)[0]
            except (ValueError, RecursionError):
                continue
    return None


def _one(calls: Any) -> Any:
    if isinstance(calls, dict) and isinstance(calls.get("tool_calls"), list):
        calls = calls["tool_calls"]
    if isinstance(calls, list) and len(calls) == 1:
        return calls[0]
    return calls


def _calls_or(text: str, loaded: Any) -> Any:
    """The call(s) when ``loaded`` holds JSON objects; otherwise the text (e.g. ``[6]`` is no tool call)."""
    one = _one(loaded)
    if isinstance(one, dict) or (isinstance(one, list) and one and all(isinstance(c, dict) for c in one)):
        return one
    return text


def extract_tool_call(text: str) -> Any:
    """The tool call (or action object) in a model's text; the text itself when none is found."""
    if not isinstance(text, str):
        return text
    clean = _SPECIAL.sub("", text).strip()
    blocks = _TOOL_CALL.findall(clean)
    if blocks:
        calls = [c for c in (_load(b) for b in blocks) if c is not None]
        return _calls_or(clean, calls)
    if "[TOOL_CALLS]" in clean:
        m = _MISTRAL_ARGS.search(clean)
        if m:
            args = _load(m.group(2))
            return {"name": m.group(1), "arguments": args if args is not None else m.group(2)}
        return _calls_or(clean, _load(clean.split("[TOOL_CALLS]", 1)[1]))
    if "<|python_tag|>" in clean:
        return _calls_or(clean, _load(clean.split("<|python_tag|>", 1)[1]))
    stripped = clean
    if stripped.startswith("```"):
        stripped = re.sub(r"^```[A-Za-z]*\s*|\s*```$", "", stripped)
    if stripped.startswith("[") or stripped.startswith("{"):
        loaded = _load(stripped)
        if isinstance(loaded, list) or (isinstance(loaded, dict) and isinstance(loaded.get("tool_calls"), list)):
            return _calls_or(clean, loaded)
    return clean  # plain JSON (bare, fenced or amid prose) is parse_action's job
