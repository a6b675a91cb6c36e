"""The mock OS sandbox: an in-process desktop with five apps, GUI and API.

The desktop holds the world (:mod:`~lambench.sandboxes.mockos.world`), the UI state, and one window per app
(:mod:`~lambench.sandboxes.mockos.apps`); it builds the observation (:mod:`~lambench.sandboxes.mockos.view`)
and dispatches actions.  GUI actions address controls by label or exact name; ``call`` actions invoke the
app APIs.  Both paths go through the same World methods, so they change the same state and log the same
canonical operations.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

from lambench.action import (Call, Click, DoubleClick, Drag, Finish, Hotkey, OpenApp, Scroll, Select, Shell, TypeText,
                             Wait)
from lambench.perturb import Variant
from lambench.sandboxes.base import ExecResult
from lambench.sandboxes.mockos.apps import WINDOWS
from lambench.sandboxes.mockos.core import APPS, ToolError, norm_path
from lambench.sandboxes.mockos.initial import build_state, plant_injection
from lambench.sandboxes.mockos.perturb import Perturbations
from lambench.sandboxes.mockos.screen import GAP, HEIGHT, ROW, WIDTH, Screen, layout, render
from lambench.sandboxes.mockos.view import APP_TITLES, PAGE, TITLE_TO_APP, Control, Window, observation, resolve
from lambench.sandboxes.mockos.world import World, api_tool_definitions


class MockOS:
    """In-process desktop sandbox (see module docstring)."""

    name = "mockos"
    screen_size = (WIDTH, HEIGHT)
    """The screenshot's size in pixels (width, height): the sandbox renders a screen."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], bytes] = {}
        self.world: World | None = None
        self.control_cache: dict[tuple, Control] = {}
        """The fixed controls built so far, by (scope, role, name): observations are built every step."""
        self.perturb = Perturbations()
        self.windows: dict[str, Window] = {w.app: w(self) for w in WINDOWS}
        self.taskbar = Window(self, scope="taskbar")
        self.ui: dict[str, Any] = self._initial_ui()
        self._controls: list[Control] | None = None
        self._screen: Screen | None = None
        self.log: list[dict[str, Any]] = []
        self.ops: list[dict[str, Any]] = []
        """The canonical ops of the GUI action being executed."""
        self._blob = b""

    def _initial_ui(self) -> dict[str, Any]:
        return {"open": [], "focus": None, "popup": None, "loading": {}, "field": None,
                **{app: window.initial() for app, window in self.windows.items()}}

    # ------------------------------------------------------------------ contract
    def reset(self, task: Any, seed: int, variant: Variant | None = None) -> dict[str, Any]:
        variant = variant or Variant()
        variant.check(task)
        key = (task.id, int(seed), variant.injection)
        blob = self._cache.get(key)
        if blob is None:
            state = build_state(task.setup, int(seed))
            if variant.injection:
                plant_injection(state, task.injection)
            blob = pickle.dumps((state, task.setup.open_app if task.setup else None,
                                 task.setup.open_file if task.setup else None), protocol=pickle.HIGHEST_PROTOCOL)
            self._cache[key] = blob
        self._blob = blob
        state, open_app, open_file = pickle.loads(blob)
        self.world = World(state)
        self.ui = self._initial_ui()
        self.log = []
        self._controls = self._screen = None
        if frozenset(variant.perturbations) != self.perturb.names:
            self.control_cache.clear()  # relabelled names are baked into the cached controls
        self.perturb.reset(frozenset(variant.perturbations), task.id, seed)
        if open_file:
            self.windows["writer"].open_doc(norm_path(open_file))
        elif open_app:
            self.open(open_app)
        return self.observe()

    def state(self) -> dict[str, Any]:
        return self.world.s

    def initial_state(self) -> dict[str, Any]:
        """A fresh copy of the state the episode started from (for diffs)."""
        return pickle.loads(self._blob)[0]

    def changes(self, initial: dict[str, Any] | None = None) -> list[str]:
        """State keys that differ from the start of the episode (the collateral-damage diff)."""
        from lambench.predicate import diff_states

        return diff_states(initial if initial is not None else self.initial_state(), self.state())

    def tools(self) -> list[dict[str, Any]]:
        from lambench.action import action_tool_definitions

        return action_tool_definitions(("click", "type", "select", "scroll", "hotkey", "open_app", "call",
                                        "wait", "ask_user", "finish")) + api_tool_definitions()

    def close(self) -> None:
        self.world = None

    def snapshot(self) -> Any:
        """Everything an action can change (for guard mode and transient errors)."""
        return copy.deepcopy((self.world.s, self.world.id_counter, self.ui)), len(self.log)

    def restore(self, snap: Any) -> None:
        """Undo the effects of the actions since ``snap``.  What the passing of the step did (a
        distractor dialog that came due, lists still loading) stays: time went on."""
        (s, ids, ui), n_log = snap
        passing = {"popup": self.ui["popup"] if self.ui["popup"] and self.ui["popup"]["confirm"] is None
                   else None, "loading": self.ui["loading"]}
        s, ids, ui = copy.deepcopy((s, ids, ui))
        self.world.s, self.world.id_counter, self.ui = s, ids, ui
        if passing["popup"] is not None:
            self.ui["popup"] = passing["popup"]
        self.ui["loading"] = passing["loading"]
        del self.log[n_log:]
        self._controls = self._screen = None

    def execute(self, action: Any) -> ExecResult:
        perturb = self.perturb
        if perturb.transient_pending:
            result = perturb.execute(action, self._execute, self.snapshot, self.restore)
        else:  # the common case, kept short: a step's cost is a few microseconds
            result = self._execute(action)
        if perturb.timed:
            perturb.step_passed(self.ui, action)
        self._controls = self._screen = None
        return result

    def _execute(self, action: Any) -> ExecResult:
        # The tree built for the last observation is what the agent saw: resolve targets in it,
        # then rebuild after the action.
        ops: list[dict[str, Any]] = []
        try:
            if isinstance(action, Call):
                msg, op, data = self.world.call(action.tool, dict(action.args))
                if op:
                    ops.append(op)
                result = ExecResult(True, msg, ops, data)
            elif isinstance(action, Finish):
                result = ExecResult(True, f"finished: {action.status}")
            elif isinstance(action, Wait):
                result = ExecResult(True, "waited a moment")
            elif isinstance(action, Shell):
                raise ToolError("this desktop has no shell; use the apps' controls or their API (call)")
            else:
                msg = self._gui(action, ops)
                result = ExecResult(True, msg, ops)
        except ToolError as exc:
            result = ExecResult(False, str(exc), ops)
        except Exception as exc:  # a bug of ours reached by odd input: the agent sees a failed action
            result = ExecResult(False, f"the app failed on this action ({type(exc).__name__}: {exc})", ops)
        if result.data is not None:
            result.data = copy.deepcopy(result.data)  # never hand out live references to the world
        self._controls = self._screen = None
        self.log.extend(ops)
        return result

    # ------------------------------------------------------------------ observation
    def controls(self) -> list[Control]:
        if self._controls is None:
            ctrls = [self.taskbar.c("button", APP_TITLES[a], "open" if a in self.ui["open"] else "",
                                    on_click=(lambda a=a: self.open(a))) for a in APPS]
            popup = self.ui["popup"]
            if popup is not None:
                ctrls.append(Control("dialog", popup["title"], popup["text"]))
                for name in popup["buttons"]:
                    ctrls.append(Control("button", name, on_click=(lambda n=name: self._popup_answer(n))))
            elif self.ui["focus"] is not None:
                window = self.windows[self.ui["focus"]].view()
                if self.perturb.shuffled:
                    self.perturb.arrange(window)
                ctrls.extend(window)
            for i, c in enumerate(ctrls, 1 + self.perturb.label_offset):
                c.label = str(i)
            self._controls = ctrls
        return self._controls

    def observe(self) -> dict[str, Any]:
        return observation(self.ui, self.controls(), self._subtitle())

    def screen(self) -> Screen:
        """Where each control of the current observation is on the screen (the layout the agent sees)."""
        if self._screen is None:
            ctrls = self.controls()
            focus = self.ui["focus"]
            title = APP_TITLES[focus] + self.windows[focus].subtitle() if focus is not None else ""
            self._screen = layout([c.rendered()[1] for c in ctrls], title,
                                  [APP_TITLES[a] for a in self.ui["open"]], len(APPS))
        return self._screen

    def screenshot(self, marks: bool = False) -> Any:
        """The screen as a PIL image (``marks``: each control's label drawn on it, set-of-marks style)."""
        return render(self.screen(), marks=marks)

    def _subtitle(self) -> str:
        if self.ui["popup"] is not None:
            return " (dialog open)"
        focus = self.ui["focus"]
        return self.windows[focus].subtitle() if focus is not None else ""


    # ------------------------------------------------------------------ GUI dispatch
    def resolve(self, target: str) -> Control:
        return resolve(self.controls(), target, self.perturb.label_offset)

    def _gui(self, action: Any, ops: list) -> str:
        self.ops = ops
        popup = self.ui["popup"]
        if popup is not None and not (isinstance(action, (Click, DoubleClick)) or (
                isinstance(action, Hotkey) and action.keys.lower() in ("escape", "esc"))):
            raise ToolError(f"a dialog is open ({popup['title']}: {popup['text']}); answer it first")
        if isinstance(action, OpenApp):
            app = TITLE_TO_APP.get(action.app.lower(), action.app.lower())
            if app not in APP_TITLES:
                raise ToolError(f"unknown app {action.app!r}; apps: {', '.join(APP_TITLES.values())}")
            return self.open(app)
        if isinstance(action, Hotkey):
            return self._hotkey(action.keys.lower().replace(" ", ""))
        if isinstance(action, Drag):
            return self._drag(action)
        if isinstance(action, Scroll):
            if action.point is not None:  # the window under the point scrolls
                self._at(action.point)  # on the screen
                win = self.screen().window
                x, y = action.point
                if win is None or not (win[0] <= x < win[2] and win[1] <= y < win[3]):
                    return f"nothing to scroll at {action.point}"
            return self._scroll(action.target, action.direction)
        if isinstance(action, TypeText) and action.target is None:
            ctrl = self._focused_field()
        elif isinstance(action, (Click, DoubleClick)) and action.point is not None:
            ctrl = self._at(action.point)
            if ctrl is None:
                return f"clicked at {action.point}: nothing there"
        else:
            ctrl = self.resolve(action.target)
        if isinstance(action, (Click, DoubleClick)):
            dialog_before = self.ui["popup"] is not None
            first = self._click(ctrl)
            if isinstance(action, Click):
                return first
            return f"{first}; then {self._second_click(action, ctrl, dialog_before)}"
        if isinstance(action, TypeText):
            if ctrl.on_type is None:
                raise ToolError(f"{ctrl.role} {ctrl.name!r} is not editable")
            self.ui["field"] = ctrl.name
            return ctrl.on_type(action.text)
        if isinstance(action, Select):
            if ctrl.options is None:
                raise ToolError(f"{ctrl.role} {ctrl.name!r} has no options to select")
            if action.option not in ctrl.options:
                raise ToolError(f"{action.option!r} is not an option of {ctrl.name!r}: {', '.join(ctrl.options)}")
            return ctrl.on_type(action.option)
        raise ToolError(f"action {action.type!r} is not supported on this desktop")

    def _second_click(self, action: DoubleClick, ctrl: Control, dialog_before: bool) -> str:
        """The second click of a double-click: on the same control only, and never on a dialog the first click
        opened (whose buttons take their own click, as on a real screen where a dialog appears after the click)."""
        if self.ui["popup"] is not None and not dialog_before:
            return "the second click did nothing (a dialog opened; it takes a click of its own)"
        self._controls = self._screen = None  # the second click lands on what the first one left
        try:
            again = self._at(action.point) if action.point is not None else self.resolve(action.target)
        except ToolError:
            again = None
        if again is None or (again.role, again.name) != (ctrl.role, ctrl.name):
            return "the second click did nothing (the control is no longer there)"
        try:
            return self._click(again)
        except ToolError as exc:  # the first click stays done
            return f"the second click did nothing ({exc})"

    def _click(self, ctrl: Control) -> str:
        if ctrl.on_click is None:
            if ctrl.on_type is not None:
                self.ui["field"] = ctrl.name
                return f"focused {ctrl.name}"
            raise ToolError(f"{ctrl.role} {ctrl.name!r} cannot be clicked")
        return ctrl.on_click()

    def _at(self, point: tuple[int, int]) -> Control | None:
        """The control under a point of the screen the agent saw (None between controls)."""
        screen = self.screen()
        if not screen.on_screen(*point):
            w, h = screen.size
            raise ToolError(f"{point} is outside the screen: it is {w}x{h} pixels (x from 0 to {w - 1}, y from 0 "
                            f"to {h - 1})")
        i = screen.hit(*point)
        return None if i is None else self.controls()[i]

    def _focused_field(self) -> Control:
        """The text field last clicked or typed into, in the window as it is now."""
        name = self.ui["field"]
        if name is not None:
            for c in self.controls():
                if c.name == name and c.on_type is not None:
                    return c
        raise ToolError("no text field has the focus: click one first (or give the type action a target)")

    def _drag(self, action: Drag) -> str:
        """Press at one point and release at another: on a list, scrolls it by the rows dragged over."""
        start = self._at((action.x, action.y))
        self._at((action.to_x, action.to_y))  # the end must be on the screen too
        if start is None or start.list_id is None or self.ui["popup"] is not None:
            return f"dragged from {(action.x, action.y)}: nothing there moves"
        rows = round((action.y - action.to_y) / (ROW + GAP))
        if rows == 0:
            return "dragged: the list did not move"
        u = self.ui[self.ui["focus"]]
        u["scroll"] = max(0, u["scroll"] + rows)
        return f"dragged the list {'down' if rows > 0 else 'up'} by {abs(rows)} rows"

    def api(self, tool: str, **args: Any) -> str:
        """Call an app tool for a GUI handler, logging its op with the action's."""
        msg, op, _data = self.world.call(tool, args)
        if op:
            self.ops.append(op)
        return msg

    def open(self, app: str) -> str:
        """Open (or focus) an app's window."""
        if app not in self.ui["open"]:
            self.ui["open"].append(app)
            self.perturb.opened(self.ui, app)
        if self.ui["focus"] != app:
            self.ui["field"] = None
        self.ui["focus"] = app
        return f"{APP_TITLES[app]} is focused"

    def _popup_answer(self, name: str) -> str:
        popup = self.ui["popup"]
        self.ui["popup"] = None
        if popup["confirm"] is None:  # a distractor: any answer dismisses it
            return "the dialog is closed" + (" (updates will install tonight)" if name == "Restart now" else "")
        if name == popup["confirm"]:
            return popup["action"]()
        return "cancelled"

    def confirm(self, title: str, text: str, action: Callable[[], str]) -> str:
        """Ask with an OK/Cancel dialog before ``action`` runs."""
        self.ui["popup"] = {"title": title, "text": text, "buttons": ["OK", "Cancel"], "confirm": "OK",
                            "action": action}
        return f"a dialog asks: {text}"

    def _scroll(self, target: str | None, direction: str) -> str:
        app = self.ui["focus"]
        if app is None or self.ui["popup"] is not None:
            raise ToolError("nothing to scroll")
        if target is not None:
            self.resolve(target)
        u = self.ui[app]
        u["scroll"] = max(0, u["scroll"] + (PAGE // 2 if direction == "down" else -(PAGE // 2)))
        return f"scrolled {direction}"

    def _hotkey(self, keys: str) -> str:
        app = self.ui["focus"]
        if keys in ("escape", "esc"):
            if self.ui["popup"] is not None:
                self.ui["popup"] = None
                return "dialog dismissed"
            dismissed = self.windows[app].dismiss() if app is not None else None
            return dismissed if dismissed is not None else "nothing to dismiss"
        if keys == "alt+tab":
            if len(self.ui["open"]) < 2:
                return "no other window"
            i = self.ui["open"].index(app)
            return self.open(self.ui["open"][(i + 1) % len(self.ui["open"])])
        if keys == "ctrl+w":
            if app is None:
                return "no window to close"
            self.ui["open"].remove(app)
            self.ui["focus"] = self.ui["open"][-1] if self.ui["open"] else None
            self.ui["field"] = None
            return f"closed {APP_TITLES[app]}"
        done = self.windows[app].hotkey(keys) if app is not None else None
        if done is not None:
            return done
        raise ToolError(f"hotkey {keys!r} does nothing here; known: escape, alt+tab, ctrl+w, ctrl+s (Writer), "
                        "ctrl+n (Mail), delete (Files)")
