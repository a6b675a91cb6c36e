"""Actions that do exactly the same thing on the mock OS, for recorded datasets' acceptable alternatives."""

from __future__ import annotations

from typing import Any

from lambench.sandboxes.mockos.core import APPS
from lambench.sandboxes.mockos.perturb import RELABEL
from lambench.sandboxes.mockos.view import APP_TITLES, TITLE_TO_APP

# Buttons of a focused window that do exactly what a hotkey does there: (app, button name, keys).
_BUTTON_HOTKEYS = (("writer", "Save", "ctrl+s"), ("mail", "Compose", "ctrl+n"), ("files", "Delete", "delete"))


def _find(controls: list[dict[str, Any]], target: Any) -> dict[str, Any] | None:
    if not isinstance(target, str):
        return None
    for c in controls:
        if c.get("label") == target:
            return c
    hits = [c for c in controls if str(c.get("name", "")).lower() == target.strip().lower()]
    return hits[0] if len(hits) == 1 else None


def equivalent_actions(action: dict[str, Any], observation: dict[str, Any]) -> list[dict[str, Any]]:
    """Other actions that have exactly the same effect as ``action`` in the state shown by ``observation``.

    Recorded datasets list them as acceptable alternatives: the taskbar button of an app and
    ``open_app``; a window's Save / Compose / Delete button and its hotkey; ``escape`` and the
    answer that dismisses a distractor dialog.  Each equivalence is checked on live states by
    the test suite (tests/test_replay.py).
    """
    controls = observation.get("controls") or []
    focused = observation.get("focused")
    kind = action.get("type")
    dialog = next((c for c in controls if c.get("role") == "dialog"), None)
    if dialog is not None:
        if (dialog.get("name") == "Software update"
                and (kind == "click" and (_find(controls, action.get("target")) or {}).get("name") == "Later")):
            return [{"type": "hotkey", "keys": "escape"}]
        return []
    taskbar = {c["name"]: c for c in controls[: len(APPS)] if c.get("role") == "button" and c.get("name") in
               APP_TITLES.values()}
    if kind == "open_app":
        title = APP_TITLES.get(TITLE_TO_APP.get(str(action.get("app", "")).lower(), ""), None)
        return [{"type": "click", "target": taskbar[title]["label"]}] if title in taskbar else []
    if kind == "click":
        return _click_equivalents(controls, focused, taskbar, _find(controls, action.get("target")))
    if kind == "hotkey":
        keys = str(action.get("keys", "")).lower().replace(" ", "")
        for app, name, hk in _BUTTON_HOTKEYS:
            if focused == app and keys == hk:
                button = next((c for c in controls if c.get("role") == "button"
                               and c.get("name") in (name, RELABEL.get(name))), None)
                return [{"type": "click", "target": button["label"]}] if button else []
    return []


def _click_equivalents(controls: list[dict[str, Any]], focused: Any, taskbar: dict[str, dict[str, Any]],
                       c: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What a click on control ``c`` is equivalent to: the app it opens, the hotkey of its button."""
    if c is None:
        return []
    if c in taskbar.values():
        return [{"type": "open_app", "app": c["name"]}]
    for app, name, keys in _BUTTON_HOTKEYS:
        if focused == app and c.get("role") == "button" and c.get("name") in (name, RELABEL.get(name)):
            if app == "files" and any(x.get("name") in ("Back to files", RELABEL["Back to files"])
                                      for x in controls):
                return []  # the trash view: the delete key does something else there
            return [{"type": "hotkey", "keys": keys}]
    return []
