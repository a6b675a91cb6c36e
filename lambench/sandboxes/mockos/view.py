"""What the agent sees of the mock OS: controls (the accessibility tree's nodes), the window model the apps
share, and the observation rendered from them.

The observation is an accessibility tree: the taskbar, then the focused window's controls, each with a
short numeric label (``[7] button "Send"``).  Labels are assigned in a fixed order (taskbar, then the
window's fixed controls, then its list items), so a button keeps its label while lists change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambench.sandboxes.mockos.core import ToolError

PAGE = 8  # list items visible at once; scroll to see more
APP_TITLES = {"files": "Files", "writer": "Writer", "mail": "Mail", "calendar": "Calendar", "settings": "Settings"}
TITLE_TO_APP = {v.lower(): k for k, v in APP_TITLES.items()}


class Control:
    """One node of the accessibility tree."""

    __slots__ = ("_memo", "label", "list_id", "name", "on_click", "on_type", "options", "role", "value")

    def __init__(self, role: str, name: str, value: str = "", *, on_click: Callable | None = None,
                 on_type: Callable | None = None, options: list[str] | None = None, list_id: str | None = None):
        self.label = ""
        self.role = role
        self.name = name
        self.value = value
        self.on_click = on_click
        self.on_type = on_type
        self.options = options
        self.list_id = list_id
        self._memo: tuple | None = None

    def rendered(self) -> tuple[str, dict[str, Any]]:
        """(text line, dict) of this control; memoised while label, value and options stay the same."""
        memo = self._memo
        if memo is None or memo[0] != self.label or memo[1] != self.value or memo[2] != self.options:
            memo = self._memo = (self.label, self.value, None if self.options is None else list(self.options),
                                 self.render(), self.as_dict())
        d = dict(memo[4])
        if "options" in d:
            d["options"] = list(d["options"])  # agents may mutate what they get
        return memo[3], d

    def as_dict(self) -> dict[str, Any]:
        d = {"label": self.label, "role": self.role, "name": self.name, "value": self.value}
        if self.options is not None:
            d["options"] = list(self.options)
        return d

    def render(self) -> str:
        s = f'[{self.label}] {self.role} "{self.name}"'
        if self.value != "":
            s += f" = {self.value}"
        if self.options is not None:
            s += f" options: {', '.join(self.options)}"
        return s


class Window:
    """One app's window: its part of the UI state, the controls it shows, the handlers behind them.

    ``desk`` is the desktop the window lives in (:class:`~lambench.sandboxes.mockos.desktop.MockOS`):
    its ``ui``, ``world``, ``control()`` cache, ``api()``, ``ops``, ``confirm()``, ``open()`` and
    ``windows``.  Fixed controls are cached across steps, so handlers read the state when called and
    never capture it.
    """

    app = ""

    def __init__(self, desk: Any, scope: str | None = None) -> None:
        self.desk = desk
        self.scope = scope or self.app
        """Where its fixed controls belong (the app; the desktop's taskbar is a window of scope ``taskbar``)."""
        self._cache = desk.control_cache  # the desktop's, cleared (never replaced) when labels change
        self._shown_name = desk.perturb.shown_name

    @property
    def u(self) -> dict[str, Any]:
        """This app's part of the UI state."""
        return self.desk.ui[self.app]

    @property
    def world(self) -> Any:
        return self.desk.world

    def initial(self) -> dict[str, Any]:
        """This app's part of the UI state when the desktop starts."""
        raise NotImplementedError

    def view(self) -> list[Control]:
        """The window's controls for the current state."""
        raise NotImplementedError

    def subtitle(self) -> str:
        """What the window shows after its title (the folder, the document)."""
        return ""

    def hotkey(self, keys: str) -> str | None:
        """Handle an app-specific hotkey; None when ``keys`` does nothing in this window."""
        return None

    def dismiss(self) -> str | None:
        """Escape in this window (with no dialog open); None when there is nothing to dismiss."""
        return None

    def c(self, role: str, name: str, value: str = "", *, on_click: Callable | None = None,
          on_type: Callable | None = None, options: list[str] | None = None, scope: str | None = None) -> Control:
        """A fixed control of this window (or of ``scope``, a form in it), built once and reused: observations
        are built every step.  Its handlers must read the state when called, never capture it."""
        key = (scope or self.scope, role, name)
        c = self._cache.get(key)
        if c is None:
            c = self._cache[key] = Control(role, self._shown_name(name, key[0]), value, on_click=on_click,
                                           on_type=on_type, options=options)
        else:
            c.value = value
            c.options = options
        return c

    def field(self, name: str) -> Control:
        """A text field whose value is kept in this app's ``fields``."""
        def set_text(text: str) -> str:
            self.u["fields"][name] = text
            return f"typed into {name}"

        return self.c("edit", name, self.u["fields"].get(name, ""), on_type=set_text)

    def select(self, name: str) -> str:
        self.u["selected"] = name
        return f"selected {name}"

    def picked(self, key: str, what: str) -> Any:
        """The item picked in this window's list (``key`` of its UI state); ``what`` names it in the error."""
        value = self.u[key]
        if value is None:
            raise ToolError(f"select {what} first (click it in the list)")
        return value

    def api(self, tool: str, **args: Any) -> str:
        return self.desk.api(tool, **args)

    def paged(self, list_id: str, items: list[Control]) -> list[Control]:
        """The visible page of a list (``scroll`` of this app), or a placeholder while it loads."""
        if self.desk.ui["loading"].get(self.app, 0) > 0:
            return [Control("text", "Loading…", "the list appears in a moment; wait or do something else")]
        u = self.u
        start = min(u["scroll"], max(0, len(items) - PAGE))
        u["scroll"] = start
        shown = items[start:start + PAGE]
        for c in shown:
            c.list_id = list_id
        out = []
        if start > 0:
            out.append(Control("text", f"{start} more above", "scroll up to see them"))
        out.extend(shown)
        if start + PAGE < len(items):
            out.append(Control("text", f"{len(items) - start - PAGE} more below", "scroll down to see them"))
        return out


def observation(ui: dict[str, Any], controls: list[Control], subtitle: str) -> dict[str, Any]:
    """The observation of labelled ``controls``: text lines, control dicts and the focused app."""
    focus = ui["focus"]
    lines = [
        "Open windows: " + (", ".join(APP_TITLES[a] + ("*" if a == focus else "") for a in ui["open"]) or "none"),
        f"Focused: {APP_TITLES[focus] if focus else 'desktop'}{subtitle}",
    ]
    dicts = []
    for c in controls:
        text, d = c.rendered()
        lines.append(text)
        dicts.append(d)
    return {"text": "\n".join(lines), "controls": dicts, "focused": focus or "desktop"}


def resolve(controls: list[Control], target: str, label_offset: int) -> Control:
    """The control a GUI action's ``target`` names: its label (``7`` or ``[7]``) or its exact name."""
    t = str(target).strip()
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    if t.isascii() and t.isdigit():
        i = int(t) - 1 - label_offset
        if 0 <= i < len(controls):
            return controls[i]
        raise ToolError(f"no control labelled {t}; labels go from {controls[0].label} to {controls[-1].label}")
    low = t.lower()
    hits = [c for c in controls if c.name.lower() == low]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ToolError(f"{len(hits)} controls are named {t!r}; use the label: "
                        + ", ".join(h.label for h in hits))
    raise ToolError(f"no control {t!r} in the focused window; use a label from the observation")
