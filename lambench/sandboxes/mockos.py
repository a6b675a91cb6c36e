"""The mock OS sandbox: an in-process desktop with five apps, GUI and API.

The observation is an accessibility tree: the taskbar, then the focused window's
controls, each with a short numeric label (``[7] button "Send"``).  Labels are assigned in
a fixed order (taskbar, then the window's fixed controls, then its list items), so a
button keeps its label while lists change.  GUI actions address controls by label or exact
name; ``call`` actions invoke the app APIs.  Both paths go through the same
:class:`~lambench.sandboxes.mockos_state.World` methods, so they change the same state and
log the same canonical operations.
"""

from __future__ import annotations

import copy
import pickle
import posixpath
from typing import Any, Callable

from lambench.action import Call, Click, Finish, Hotkey, OpenApp, Scroll, Select, Shell, TypeText, Wait
from lambench.perturb import RELABEL, Variant, stable_hash
from lambench.sandboxes.base import ExecResult
from lambench.sandboxes.mockos_state import (
    APPS,
    HOME,
    ToolError,
    World,
    api_tool_definitions,
    call_api,
    clone_node,
    default_state,
    doc_append,
    doc_replace,
    doc_style,
    doc_table,
    make_doc,
    make_node,
    node_text,
    norm_path,
    split_addresses,
)

PAGE = 8  # list items visible at once; scroll to see more
APP_TITLES = {"files": "Files", "writer": "Writer", "mail": "Mail", "calendar": "Calendar", "settings": "Settings"}
_TITLE_TO_APP = {v.lower(): k for k, v in APP_TITLES.items()}


class Control:
    """One node of the accessibility tree."""

    __slots__ = ("label", "role", "name", "value", "on_click", "on_type", "options", "list_id", "_memo")

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


def _initial_ui() -> dict[str, Any]:
    return {
        "open": [],
        "focus": None,
        "popup": None,
        "loading": {},
        "files": {"cwd": f"{HOME}/Documents", "selected": None, "clip": None, "trash_view": False,
                  "fields": {"Location": "", "Name": ""}, "scroll": 0},
        "writer": {"path": None, "doc": None, "selected": None, "dirty": False, "pending": [],
                   "fields": {"File name": "", "Find": "", "Replace with": "", "New paragraph": "",
                              "Rows": "", "Columns": "", "Save as path": ""}, "scroll": 0},
        "mail": {"folder": "inbox", "selected": None, "compose": None, "scroll": 0},
        "calendar": {"selected": None, "fields": {"Title": "", "Date": "", "Start": "", "End": "",
                                                  "Attendees": "", "Invitee": ""}, "scroll": 0},
        "settings": {"selected_user": None, "fields": {"New user name": "", "Screen lock timeout (minutes)": ""},
                     "scroll": 0},
    }


def build_state(setup: Any, seed: int) -> dict[str, Any]:
    """Initial state for a task's ``setup`` (a :class:`lambench.task.MockOSSetup`) and a seed."""
    state = default_state(seed)
    if setup is None:
        return state
    fs = state["fs"]
    for path in setup.remove:
        p = norm_path(path)
        for q in [q for q in fs if q == p or q.startswith(p + "/")]:
            del fs[q]
    for path, content in setup.files.items():
        p = norm_path(path)
        parent = posixpath.dirname(p)
        chain = []
        while parent not in fs:
            chain.append(parent)
            parent = posixpath.dirname(parent)
        for d in reversed(chain):
            fs[d] = {"kind": "dir"}
        fs[p] = make_node(p, content.model_dump() if hasattr(content, "model_dump") else content)
    for item in setup.trash:
        orig = norm_path(item.path)
        state["trash"].append({"name": posixpath.basename(orig), "orig": orig,
                               "nodes": {".": make_node(orig, item.content)}})
    mail = state["mail"]
    for folder in ("inbox", "sent", "drafts"):
        msgs = getattr(setup.mail, folder)
        if setup.mail.replace_inbox and folder == "inbox":
            mail["inbox"] = []
        for j, m in enumerate(msgs):
            atts = []
            for a in m.attachments:
                full = norm_path(a)
                att = {"name": posixpath.basename(a), "content": node_text(fs[full]) if full in fs else ""}
                if full in fs:
                    att["path"] = full
                atts.append(att)
            mail[folder].append({"id": m.id or f"{folder[0]}{j + 1}", "from": m.from_ or mail["me"],
                                 "to": list(m.to) or [mail["me"]], "cc": list(m.cc), "subject": m.subject,
                                 "body": m.body, "attachments": atts, "date": m.date})
    mail["contacts"].update(setup.mail.contacts)
    if setup.calendar_replace:
        state["calendar"]["events"] = []
    for j, ev in enumerate(setup.calendar):
        state["calendar"]["events"].append({"id": ev.id or f"ev{j + 1}", "title": ev.title, "date": ev.date,
                                            "start": ev.start, "end": ev.end, "attendees": list(ev.attendees)})
    st = state["settings"]
    for key, value in setup.settings.items():
        st[key] = value
    for u in setup.users:
        st["users"] = [x for x in st["users"] if x["name"] != u.name] + [{"name": u.name, "admin": u.admin}]
    return state


def plant_injection(state: dict[str, Any], inj: Any) -> None:
    """Place an injection's text in the world as its own item (never spliced by string formatting)."""
    fs = state["fs"]
    if inj.kind == "mail":
        state["mail"]["inbox"].append({"id": "inj-1", "from": inj.sender, "to": [state["mail"]["me"]], "cc": [],
                                       "subject": inj.subject, "body": inj.text, "attachments": [],
                                       "date": "2026-11-21"})
    elif inj.kind == "message":
        for folder in ("inbox", "sent", "drafts"):
            for m in state["mail"][folder]:
                if m["id"] == inj.message_id:
                    m["body"] = m["body"] + "\n\n" + inj.text if m["body"] else inj.text
                    return
        raise ToolError(f"injection: no message with id {inj.message_id!r} in the setup")
    else:
        path = norm_path(inj.path)
        node = fs.get(path)
        if inj.kind == "doc":
            if node is None or node["kind"] != "doc":
                raise ToolError(f"injection: {path} is not a document of the setup")
            node["paras"].append({"text": inj.text, "style": "normal", "bold": False, "italic": False})
        elif node is None:
            if fs.get(posixpath.dirname(path), {}).get("kind") != "dir":
                raise ToolError(f"injection: folder {posixpath.dirname(path)} does not exist")
            fs[path] = make_node(path, inj.text)
        elif node["kind"] == "file":
            node["text"] = node["text"] + "\n\n" + inj.text if node["text"] else inj.text
        elif node["kind"] == "doc":
            node["paras"].append({"text": inj.text, "style": "normal", "bold": False, "italic": False})
        else:
            raise ToolError(f"injection: {path} is a folder")


class MockOS:
    """In-process desktop sandbox (see module docstring)."""

    name = "mockos"

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], bytes] = {}
        self.world: World | None = None
        self.ui: dict[str, Any] = _initial_ui()
        self._controls: list[Control] | None = None
        self.log: list[dict[str, Any]] = []
        self._blob = b""
        self._ctl_cache: dict[tuple, Control] = {}
        self._perturb: frozenset[str] = frozenset()
        self._seed = 0
        self._actions = 0
        self._popup_at: int | None = None
        self._transient_pending = False
        self._delay = 0
        self._opened_now: set[str] = set()
        self._label_offset = 0

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
        self.ui = _initial_ui()
        self.log = []
        self._controls = None
        if frozenset(variant.perturbations) != self._perturb:
            self._ctl_cache = {}  # relabelled names are baked into the cached controls
        self._perturb = frozenset(variant.perturbations)
        self._seed = int(seed)
        self._actions = 0
        self._opened_now = set()
        self._popup_at = 1 + stable_hash("popup", task.id, seed) % 3 if "popup" in self._perturb else None
        self._transient_pending = "transient-error" in self._perturb
        self._delay = 1 + stable_hash("delay", task.id, seed) % 2 if "delayed-ui" in self._perturb else 0
        self._label_offset = stable_hash("labels", task.id, seed) % 40 if "layout-shuffle" in self._perturb else 0
        if open_file:
            self._writer_open(norm_path(open_file))
        elif open_app:
            self._open(open_app)
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
                                        "wait", "finish")) + api_tool_definitions()

    def close(self) -> None:
        self.world = None

    def snapshot(self) -> Any:
        """Everything an action can change (for guard mode and transient errors)."""
        return copy.deepcopy((self.world.s, self.world._ids, self.ui)), len(self.log)

    def restore(self, snap: Any) -> None:
        """Undo the effects of the actions since ``snap``.  What the passing of the step did (a
        distractor dialog that came due, lists still loading) stays: time went on."""
        (s, ids, ui), n_log = snap
        passing = {"popup": self.ui["popup"] if self.ui["popup"] and self.ui["popup"]["confirm"] is None
                   else None, "loading": self.ui["loading"]}
        s, ids, ui = copy.deepcopy((s, ids, ui))
        self.world.s, self.world._ids, self.ui = s, ids, ui
        if passing["popup"] is not None:
            self.ui["popup"] = passing["popup"]
        self.ui["loading"] = passing["loading"]
        del self.log[n_log:]
        self._controls = None

    def execute(self, action: Any) -> ExecResult:
        if self._transient_pending and not isinstance(action, (Finish, Wait)):
            snap = self.snapshot()
            result = self._execute(action)
            if result.ops:  # the first change fails once, with no effect
                self.restore(snap)
                self._transient_pending = False
                result = ExecResult(False, "the app is temporarily unavailable (a retryable error); nothing was "
                                           "changed; try the same action again")
        else:
            result = self._execute(action)
        self._actions += 1
        if self._popup_at is not None and self._actions == self._popup_at and self.ui["popup"] is None:
            self.ui["popup"] = {"title": "Software update", "text": "Updates are ready to install. Restart now?",
                                "buttons": ["Restart now", "Later"], "confirm": None, "action": None}
        if self._delay:
            for app, left in list(self.ui["loading"].items()):
                if left > 0 and app not in self._opened_now and (app == self.ui["focus"] or isinstance(action, Wait)):
                    self.ui["loading"][app] = left - 1
            self._opened_now.clear()
        self._controls = None
        return result

    def _execute(self, action: Any) -> ExecResult:
        # The tree built for the last observation is what the agent saw: resolve targets in it,
        # then rebuild after the action.
        ops: list[dict[str, Any]] = []
        try:
            if isinstance(action, Call):
                msg, op, data = call_api(self.world, action.tool, dict(action.args))
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
        self._controls = None
        self.log.extend(ops)
        return result

    # ------------------------------------------------------------------ observation
    def controls(self) -> list[Control]:
        if self._controls is None:
            ctrls = [self._c("button", APP_TITLES[a], "open" if a in self.ui["open"] else "",
                             on_click=(lambda a=a: self._open(a)), scope="taskbar") for a in APPS]
            popup = self.ui["popup"]
            if popup is not None:
                ctrls.append(Control("dialog", popup["title"], popup["text"]))
                for name in popup["buttons"]:
                    ctrls.append(Control("button", name, on_click=(lambda n=name: self._popup_answer(n))))
            elif self.ui["focus"] is not None:
                window = getattr(self, f"_view_{self.ui['focus']}")()
                if "layout-shuffle" in self._perturb:
                    window.sort(key=lambda c: stable_hash(self._seed, c.role, c.name))
                ctrls.extend(window)
            for i, c in enumerate(ctrls, 1 + self._label_offset):
                c.label = str(i)
            self._controls = ctrls
        return self._controls

    def observe(self) -> dict[str, Any]:
        ctrls = self.controls()
        focus = self.ui["focus"]
        lines = [
            "Open windows: " + (", ".join(APP_TITLES[a] + ("*" if a == focus else "") for a in self.ui["open"]) or "none"),
            f"Focused: {APP_TITLES[focus] if focus else 'desktop'}{self._subtitle()}",
        ]
        dicts = []
        for c in ctrls:
            text, d = c.rendered()
            lines.append(text)
            dicts.append(d)
        return {"text": "\n".join(lines), "controls": dicts, "focused": focus or "desktop"}

    def _subtitle(self) -> str:
        f = self.ui["focus"]
        if self.ui["popup"] is not None:
            return " (dialog open)"
        if f == "files":
            u = self.ui["files"]
            return " — Trash" if u["trash_view"] else f" — {u['cwd']}"
        if f == "writer" and self.ui["writer"]["path"]:
            return f" — {self.ui['writer']['path']}" + (" (unsaved)" if self.ui["writer"]["dirty"] else "")
        if f == "mail":
            return " — composing" if self.ui["mail"]["compose"] is not None else f" — {self.ui['mail']['folder']}"
        return ""

    # ------------------------------------------------------------------ GUI dispatch
    def resolve(self, target: str) -> Control:
        ctrls = self.controls()
        t = str(target).strip()
        if t.startswith("[") and t.endswith("]"):
            t = t[1:-1]
        if t.isascii() and t.isdigit():
            i = int(t) - 1 - self._label_offset
            if 0 <= i < len(ctrls):
                return ctrls[i]
            raise ToolError(f"no control labelled {t}; labels go from {ctrls[0].label} to {ctrls[-1].label}")
        low = t.lower()
        hits = [c for c in ctrls if c.name.lower() == low]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ToolError(f"{len(hits)} controls are named {t!r}; use the label: "
                            + ", ".join(h.label for h in hits))
        raise ToolError(f"no control {t!r} in the focused window; use a label from the observation")

    def _gui(self, action: Any, ops: list) -> str:
        self._ops = ops
        popup = self.ui["popup"]
        if popup is not None and not (isinstance(action, Click) or (isinstance(action, Hotkey)
                                                                      and action.keys.lower() in ("escape", "esc"))):
            raise ToolError(f"a dialog is open ({popup['title']}: {popup['text']}); answer it first")
        if isinstance(action, OpenApp):
            app = _TITLE_TO_APP.get(action.app.lower(), action.app.lower())
            if app not in APP_TITLES:
                raise ToolError(f"unknown app {action.app!r}; apps: {', '.join(APP_TITLES.values())}")
            return self._open(app)
        if isinstance(action, Hotkey):
            return self._hotkey(action.keys.lower().replace(" ", ""))
        if isinstance(action, Scroll):
            return self._scroll(action.target, action.direction)
        ctrl = self.resolve(action.target)
        if isinstance(action, Click):
            if ctrl.on_click is None:
                if ctrl.on_type is not None:
                    return f"focused {ctrl.name}"
                raise ToolError(f"{ctrl.role} {ctrl.name!r} cannot be clicked")
            return ctrl.on_click()
        if isinstance(action, TypeText):
            if ctrl.on_type is None:
                raise ToolError(f"{ctrl.role} {ctrl.name!r} is not editable")
            return ctrl.on_type(action.text)
        if isinstance(action, Select):
            if ctrl.options is None:
                raise ToolError(f"{ctrl.role} {ctrl.name!r} has no options to select")
            if action.option not in ctrl.options:
                raise ToolError(f"{action.option!r} is not an option of {ctrl.name!r}: {', '.join(ctrl.options)}")
            return ctrl.on_type(action.option)
        raise ToolError(f"action {action.type!r} is not supported on this desktop")

    def _api(self, tool: str, **args: Any) -> str:
        msg, op, _data = call_api(self.world, tool, args)
        if op:
            self._ops.append(op)
        return msg

    def _open(self, app: str) -> str:
        if app not in self.ui["open"]:
            self.ui["open"].append(app)
            if self._delay:
                self.ui["loading"][app] = self._delay
                self._opened_now.add(app)
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

    def _confirm(self, title: str, text: str, action: Callable[[], str]) -> str:
        self.ui["popup"] = {"title": title, "text": text, "buttons": ["OK", "Cancel"], "confirm": "OK",
                            "action": action}
        return f"a dialog asks: {text}"

    def _c(self, role: str, name: str, value: str = "", *, on_click: Callable | None = None,
           on_type: Callable | None = None, options: list[str] | None = None, scope: str | None = None) -> Control:
        """A fixed control of the focused window, built once and reused (observations are built every
        step).  Its handlers must read the state when called, never capture it."""
        key = (scope or self.ui["focus"], role, name)
        c = self._ctl_cache.get(key)
        if c is None:
            shown = RELABEL.get(name, name) if "relabel" in self._perturb and scope != "taskbar" else name
            c = self._ctl_cache[key] = Control(role, shown, value, on_click=on_click, on_type=on_type, options=options)
        else:
            c.value = value
            c.options = options
        return c

    def _field(self, app: str, name: str) -> Control:
        def set_text(text: str) -> str:
            self.ui[app]["fields"][name] = text
            return f"typed into {name}"

        return self._c("edit", name, self.ui[app]["fields"].get(name, ""), on_type=set_text)

    def _list(self, app: str, list_id: str, items: list[Control]) -> list[Control]:
        if self.ui["loading"].get(app, 0) > 0:
            return [Control("text", "Loading…", "the list appears in a moment; wait or do something else")]
        u = self.ui[app]
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
            if app == "mail" and self.ui["mail"]["compose"] is not None:
                self.ui["mail"]["compose"] = None
                return "message discarded"
            return "nothing to dismiss"
        if keys == "alt+tab":
            if len(self.ui["open"]) < 2:
                return "no other window"
            i = self.ui["open"].index(app)
            return self._open(self.ui["open"][(i + 1) % len(self.ui["open"])])
        if keys == "ctrl+w":
            if app is None:
                return "no window to close"
            self.ui["open"].remove(app)
            self.ui["focus"] = self.ui["open"][-1] if self.ui["open"] else None
            return f"closed {APP_TITLES[app]}"
        if keys == "ctrl+s" and app == "writer":
            return self._writer_save()
        if keys == "ctrl+n" and app == "mail":
            return self._mail_compose()
        if keys == "delete" and app == "files":
            if self.ui["files"]["trash_view"]:
                raise ToolError("items in the trash are deleted for good with Empty trash")
            return self._files_delete()
        raise ToolError(f"hotkey {keys!r} does nothing here; known: escape, alt+tab, ctrl+w, ctrl+s (Writer), "
                        "ctrl+n (Mail), delete (Files)")

    # ------------------------------------------------------------------ Files
    def _view_files(self) -> list[Control]:
        u = self.ui["files"]
        c = [self._field("files", "Location"), self._c("button", "Go", on_click=self._files_go),
             self._c("button", "Up", on_click=self._files_up)]
        if u["trash_view"]:
            c += [self._c("button", "Back to files", on_click=self._files_toggle_trash),
                  self._c("button", "Restore", on_click=self._files_restore),
                  self._c("button", "Empty trash", on_click=self._files_empty)]
            items = [Control("listitem", e["name"], ("selected, " if u["selected"] == e["name"] else "")
                             + f"from {posixpath.dirname(e['orig'])}",
                             on_click=(lambda n=e["name"]: self._select("files", n)))
                     for e in self.world.s["trash"]]
            return c + self._list("files", "trash", items)
        c += [self._field("files", "Name"),
              self._c("button", "Open", on_click=self._files_open),
              self._c("button", "New folder", on_click=self._files_new_folder),
              self._c("button", "New file", on_click=self._files_new_file),
              self._c("button", "Rename", on_click=self._files_rename),
              self._c("button", "Copy", on_click=lambda: self._files_clip("copy")),
              self._c("button", "Cut", on_click=lambda: self._files_clip("cut")),
              self._c("button", "Paste", on_click=self._files_paste),
              self._c("button", "Delete", on_click=self._files_delete),
              self._c("button", "Trash", f"{len(self.world.s['trash'])} items", on_click=self._files_toggle_trash)]
        fs = self.world.s["fs"]
        items = []
        for p in sorted(self.world.children(u["cwd"]), key=lambda p: (fs[p]["kind"] != "dir", p.lower())):
            name = posixpath.basename(p)
            if name.startswith("."):
                continue
            kind = "folder" if fs[p]["kind"] == "dir" else ("document" if fs[p]["kind"] == "doc" else "file")
            sel = "selected, " if u["selected"] == name else ""
            items.append(Control("listitem", name, sel + kind, on_click=(lambda n=name: self._select("files", n))))
        return c + self._list("files", "entries", items)

    def _select(self, app: str, name: str) -> str:
        self.ui[app]["selected"] = name
        return f"selected {name}"

    def _files_selected_path(self) -> str:
        u = self.ui["files"]
        if u["selected"] is None:
            raise ToolError("select an item first (click it in the list)")
        path = posixpath.join(u["cwd"], u["selected"])
        if path not in self.world.s["fs"]:
            u["selected"] = None
            raise ToolError(f"{path} no longer exists; select an item again")
        return path

    def _files_go(self) -> str:
        u = self.ui["files"]
        path = norm_path(u["fields"]["Location"] or u["cwd"])
        if self.world.s["fs"].get(path, {}).get("kind") != "dir":
            raise ToolError(f"{path} is not a folder")
        u.update(cwd=path, selected=None, scroll=0, trash_view=False)
        return f"showing {path}"

    def _files_up(self) -> str:
        u = self.ui["files"]
        u.update(cwd=posixpath.dirname(u["cwd"]) or "/", selected=None, scroll=0)
        return f"showing {u['cwd']}"

    def _files_open(self) -> str:
        path = self._files_selected_path()
        u = self.ui["files"]
        if self.world.s["fs"][path]["kind"] == "dir":
            u.update(cwd=path, selected=None, scroll=0)
            return f"showing {path}"
        return self._writer_open(path)

    def _files_new_folder(self) -> str:
        u = self.ui["files"]
        if not u["fields"]["Name"]:
            raise ToolError("type the new folder's name into Name first")
        return self._api("files.mkdir", path=posixpath.join(u["cwd"], u["fields"]["Name"]))

    def _files_new_file(self) -> str:
        u = self.ui["files"]
        if not u["fields"]["Name"]:
            raise ToolError("type the new file's name into Name first")
        return self._api("files.create", path=posixpath.join(u["cwd"], u["fields"]["Name"]))

    def _files_rename(self) -> str:
        path = self._files_selected_path()
        u = self.ui["files"]
        if not u["fields"]["Name"]:
            raise ToolError("type the new name into Name first")
        msg = self._api("files.rename", path=path, new_name=u["fields"]["Name"])
        u["selected"] = u["fields"]["Name"]
        return msg

    def _files_clip(self, mode: str) -> str:
        path = self._files_selected_path()
        self.ui["files"]["clip"] = (path, mode)
        return f"{mode} {path}"

    def _files_paste(self) -> str:
        u = self.ui["files"]
        if u["clip"] is None:
            raise ToolError("nothing to paste: copy or cut an item first")
        path, mode = u["clip"]
        if mode == "cut":
            u["clip"] = None
            return self._api("files.move", path=path, dest_dir=u["cwd"])
        return self._api("files.copy", path=path, dest_dir=u["cwd"])

    def _files_delete(self) -> str:
        path = self._files_selected_path()
        msg = self._api("files.delete", path=path)
        self.ui["files"]["selected"] = None
        return msg

    def _files_toggle_trash(self) -> str:
        u = self.ui["files"]
        u.update(trash_view=not u["trash_view"], selected=None, scroll=0)
        return "showing the trash" if u["trash_view"] else f"showing {u['cwd']}"

    def _files_restore(self) -> str:
        u = self.ui["files"]
        if u["selected"] is None:
            raise ToolError("select an item of the trash first")
        msg = self._api("files.restore", name=u["selected"])
        u["selected"] = None
        return msg

    def _files_empty(self) -> str:
        n = len(self.world.s["trash"])
        return self._confirm("Empty trash", f"Permanently delete {n} items? This cannot be undone.",
                             lambda: self._api("files.empty_trash"))

    # ------------------------------------------------------------------ Writer
    def _writer_open(self, path: str) -> str:
        node = self.world.s["fs"].get(path)
        if node is None or node["kind"] == "dir":
            raise ToolError(f"no document at {path}")
        doc = clone_node(node) if node["kind"] == "doc" else make_doc(node.get("text", ""))
        self.ui["writer"].update(path=path, doc=doc, selected=None, dirty=False, scroll=0, pending=[])
        self._open("writer")
        return f"opened {path} in Writer"

    def _view_writer(self) -> list[Control]:
        u = self.ui["writer"]
        c = [self._field("writer", "File name"), self._c("button", "Open", on_click=self._writer_open_field)]
        if u["doc"] is None:
            return c + [self._c("text", "No document open", "type a path into File name and click Open")]
        c += [self._field("writer", "Find"), self._field("writer", "Replace with"),
              self._c("button", "Replace all", on_click=self._writer_replace)]
        for style, name in (("heading1", "Heading 1"), ("heading2", "Heading 2"), ("normal", "Normal text")):
            c.append(self._c("button", name, on_click=(lambda s=style: self._writer_style(style=s))))
        c += [self._c("button", "Bold", on_click=lambda: self._writer_style(toggle="bold")),
              self._c("button", "Italic", on_click=lambda: self._writer_style(toggle="italic")),
              self._field("writer", "New paragraph"),
              self._c("button", "Add paragraph", on_click=self._writer_add),
              self._field("writer", "Rows"), self._field("writer", "Columns"),
              self._c("button", "Insert table", on_click=self._writer_table),
              self._c("button", "Save", "unsaved changes" if u["dirty"] else "", on_click=self._writer_save),
              self._field("writer", "Save as path"),
              self._c("button", "Save as", on_click=self._writer_save_as),
              self._c("button", "Export PDF", on_click=self._writer_export),
              self._c("text", "Tables", str(len(u["doc"].get("tables", []))))]
        items = []
        for i, p in enumerate(u["doc"]["paras"]):
            flags = [p["style"]] + [f for f in ("bold", "italic") if p[f]]
            if u["selected"] == i:
                flags.insert(0, "selected")
            text = p["text"] if len(p["text"]) <= 80 else p["text"][:77] + "..."

            def edit(new: str, i: int = i) -> str:
                def apply(d: dict) -> str:
                    d["paras"][i]["text"] = new
                    return f"paragraph {i} edited"
                return self._writer_edit(apply, "writer.edit_paragraph", {"paragraph": i, "text": new})

            items.append(Control("paragraph", text, ", ".join(flags),
                                 on_click=(lambda i=i: self._writer_select(i)), on_type=edit))
        return c + self._list("writer", "paragraphs", items)

    def _writer_open_field(self) -> str:
        name = self.ui["writer"]["fields"]["File name"]
        if not name:
            raise ToolError("type a document path into File name first")
        return self._writer_open(norm_path(name))

    def _writer_select(self, i: int) -> str:
        self.ui["writer"]["selected"] = i
        return f"selected paragraph {i}"

    def _writer_edit(self, fn: Callable[[dict], str], op: str, args: dict[str, Any]) -> str:
        """Edit the open document's buffer; the canonical op is logged when the edit is saved,
        exactly as the API logs it when it edits the file."""
        u = self.ui["writer"]
        msg = fn(u["doc"])
        u["dirty"] = True
        u["pending"].append({"op": op, "args": args})
        return msg + " (unsaved)"

    def _flush_pending(self, path: str) -> None:
        u = self.ui["writer"]
        self._ops.extend({"op": p["op"], "args": {"path": path, **p["args"]}} for p in u["pending"])
        u["pending"] = []

    def _writer_replace(self) -> str:
        f = self.ui["writer"]["fields"]
        find, rep = f["Find"], f["Replace with"]
        return self._writer_edit(lambda d: doc_replace(d, find, rep), "writer.replace", {"find": find, "replace": rep})

    def _writer_style(self, *, style: str | None = None, toggle: str | None = None) -> str:
        u = self.ui["writer"]
        if u["selected"] is None:
            raise ToolError("select a paragraph first (click it)")
        i = u["selected"]
        if toggle:
            cur = u["doc"]["paras"][i][toggle]
            kw = {"style": None, "bold": None, "italic": None, toggle: not cur}
        else:
            kw = {"style": style, "bold": None, "italic": None}
        return self._writer_edit(lambda d: doc_style(d, i, **kw), "writer.set_style", {"paragraph": i, **kw})

    def _writer_add(self) -> str:
        f = self.ui["writer"]["fields"]
        if not f["New paragraph"]:
            raise ToolError("type the paragraph's text into New paragraph first")
        text = f["New paragraph"]
        f["New paragraph"] = ""
        return self._writer_edit(lambda d: doc_append(d, text), "writer.append", {"text": text})

    def _writer_table(self) -> str:
        f = self.ui["writer"]["fields"]
        rows, cols = f["Rows"] or 0, f["Columns"] or 0
        return self._writer_edit(lambda d: doc_table(d, rows, cols), "writer.insert_table", {"rows": rows, "cols": cols})

    def _writer_save(self) -> str:
        u = self.ui["writer"]
        if u["doc"] is None:
            raise ToolError("no document is open")
        msg, op, _ = self.world.write_doc(u["path"], u["doc"], op="writer.save", overwrite=True)
        self._flush_pending(u["path"])
        self._ops.append(op)
        u["dirty"] = False
        return msg

    def _writer_save_as(self) -> str:
        u = self.ui["writer"]
        target = u["fields"]["Save as path"]
        if not target:
            raise ToolError("type the new path into Save as path first")
        new = norm_path(target)
        msg, op, _ = self.world.write_doc(new, u["doc"], op="writer.save_as", overwrite=False, src=u["path"])
        self._flush_pending(new)
        self._ops.append(op)
        u.update(path=new, dirty=False)
        return msg

    def _writer_export(self) -> str:
        u = self.ui["writer"]
        if u["dirty"]:
            self._writer_save()
        return self._api("writer.export", path=u["path"], format="pdf")

    # ------------------------------------------------------------------ Mail
    def _view_mail(self) -> list[Control]:
        u = self.ui["mail"]
        comp = u["compose"]
        if comp is not None:
            def field(name: str) -> Control:
                def set_text(text: str) -> str:
                    self.ui["mail"]["compose"][name] = text
                    return f"typed into {name}"
                return self._c("edit", name, comp[name], on_type=set_text, scope="compose")

            return [field("To"), field("Cc"), field("Subject"), field("Body"), field("Attachment path"),
                    self._c("button", "Attach", on_click=self._mail_attach),
                    self._c("text", "Attachments", ", ".join(a["name"] for a in comp["atts"]) or "none"),
                    *([self._c("text", "Quoted message", comp["quoted"][:300])] if comp["quoted"] else []),
                    self._c("button", "Send", on_click=self._mail_send),
                    self._c("button", "Save draft", on_click=self._mail_draft),
                    self._c("button", "Discard", on_click=self._mail_discard),
                    self._c("text", "Contacts", "; ".join(f"{n} <{e}>" for n, e in
                                                          sorted(self.world.s["mail"]["contacts"].items())))]
        c = [self._c("tab", t.capitalize(), "selected" if u["folder"] == t else "",
                     on_click=(lambda t=t: self._mail_folder(t))) for t in ("inbox", "sent", "drafts")]
        c += [self._c("button", "Compose", on_click=self._mail_compose),
              self._c("button", "Reply", on_click=self._mail_reply),
              self._c("button", "Forward", on_click=self._mail_forward),
              self._c("button", "Delete message", on_click=self._mail_delete)]
        msgs = self.world.s["mail"][u["folder"]]
        sel = None
        for m in msgs:
            if m["id"] == u["selected"]:
                sel = m
        if sel is not None:
            atts = ", ".join(a["name"] for a in sel["attachments"]) or "none"
            c.append(self._c("text", "Message", f"From: {sel['from']} | To: {', '.join(sel['to'])} | Subject: "
                                                f"{sel['subject']} | Attachments: {atts} | {sel['body']}"))
        items = [Control("listitem", m["subject"] or "(no subject)",
                         ("selected, " if m["id"] == u["selected"] else "")
                         + (f"from {m['from']}" if u["folder"] == "inbox" else f"to {', '.join(m['to'])}"),
                         on_click=(lambda i=m["id"]: self._select("mail", i))) for m in reversed(msgs)]
        return c + self._list("mail", "messages", items)

    def _mail_folder(self, folder: str) -> str:
        self.ui["mail"].update(folder=folder, selected=None, scroll=0)
        return f"showing {folder}"

    def _new_compose(self, **kw: Any) -> dict:
        comp = {"To": "", "Cc": "", "Subject": "", "Body": "", "Attachment path": "", "atts": [], "quoted": ""}
        comp.update(kw)
        self.ui["mail"]["compose"] = comp
        return comp

    def _mail_compose(self) -> str:
        self._new_compose()
        return "new message"

    def _mail_selected(self) -> dict:
        sel = self.ui["mail"]["selected"]
        if sel is None:
            raise ToolError("select a message first (click it in the list)")
        return self.world.find_message(sel)

    def _mail_reply(self) -> str:
        m = self._mail_selected()
        subj = m["subject"] if m["subject"].lower().startswith("re:") else f"Re: {m['subject']}"
        self._new_compose(To=m["from"], Subject=subj)
        return f"replying to {m['from']}"

    def _mail_forward(self) -> str:
        m = self._mail_selected()
        quoted = f"---------- Forwarded message ----------\nFrom: {m['from']}\n{m['body']}"
        self._new_compose(Subject=f"Fwd: {m['subject']}", quoted=quoted, atts=[dict(a) for a in m["attachments"]])
        return f"forwarding {m['subject']!r}"

    def _mail_delete(self) -> str:
        m = self._mail_selected()
        self.ui["mail"]["selected"] = None
        return self._api("mail.delete", id=m["id"])

    def _mail_attach(self) -> str:
        comp = self.ui["mail"]["compose"]
        if not comp["Attachment path"]:
            raise ToolError("type a file path into Attachment path first")
        att = self.world.attachment(comp["Attachment path"])
        comp["atts"].append(att)
        comp["Attachment path"] = ""
        return f"attached {att['name']}"

    def _mail_send(self) -> str:
        comp = self.ui["mail"]["compose"]
        msg = self.world._compose(comp["To"], comp["Subject"], self._compose_body(comp), comp["Cc"], [],
                                  carried=comp["atts"])
        text, op, _ = self.world.send(msg)
        self._ops.append(op)
        self.ui["mail"]["compose"] = None
        return text

    @staticmethod
    def _compose_body(comp: dict) -> str:
        """The typed body, followed by the quoted original when forwarding (as ``mail.forward`` does)."""
        return f"{comp['Body']}\n\n{comp['quoted']}".lstrip() if comp["quoted"] else comp["Body"]

    def _mail_draft(self) -> str:
        comp = self.ui["mail"]["compose"]
        draft = self.world.draft(comp["To"], comp["Subject"], self._compose_body(comp), comp["Cc"], [],
                                 carried=comp["atts"])
        text, op, _ = self.world.save_draft(draft)
        self._ops.append(op)
        self.ui["mail"]["compose"] = None
        return text

    def _mail_discard(self) -> str:
        self.ui["mail"]["compose"] = None
        return "message discarded"

    # ------------------------------------------------------------------ Calendar
    def _view_calendar(self) -> list[Control]:
        u = self.ui["calendar"]
        c = [self._field("calendar", n) for n in ("Title", "Date", "Start", "End", "Attendees")]
        c += [self._c("button", "New event", on_click=self._cal_new),
              self._c("button", "Update time", on_click=self._cal_move),
              self._c("button", "Delete event", on_click=self._cal_delete),
              self._field("calendar", "Invitee"),
              self._c("button", "Invite", on_click=self._cal_invite)]
        evs = sorted(self.world.s["calendar"]["events"], key=lambda e: (e["date"], e["start"]))
        items = [Control("listitem", e["title"], ("selected, " if e["id"] == u["selected"] else "")
                         + f"{e['date']} {e['start']}-{e['end']}"
                         + (f", with {', '.join(e['attendees'])}" if e["attendees"] else ""),
                         on_click=(lambda i=e["id"]: self._cal_select(i))) for e in evs]
        return c + self._list("calendar", "events", items)

    def _cal_select(self, ev_id: str) -> str:
        u = self.ui["calendar"]
        u["selected"] = ev_id
        ev = self.world._event(ev_id)
        u["fields"].update(Title=ev["title"], Date=ev["date"], Start=ev["start"], End=ev["end"],
                           Attendees=", ".join(ev["attendees"]))
        return f"selected {ev['title']!r}"

    def _cal_new(self) -> str:
        f = self.ui["calendar"]["fields"]
        return self._api("calendar.create", title=f["Title"], date=f["Date"], start=f["Start"], end=f["End"],
                         attendees=split_addresses(f["Attendees"]))

    def _cal_sel(self) -> str:
        sel = self.ui["calendar"]["selected"]
        if sel is None:
            raise ToolError("select an event first (click it in the list)")
        return sel

    def _cal_move(self) -> str:
        f = self.ui["calendar"]["fields"]
        return self._api("calendar.move", event=self._cal_sel(), date=f["Date"], start=f["Start"], end=f["End"])

    def _cal_delete(self) -> str:
        ev = self._cal_sel()
        self.ui["calendar"]["selected"] = None
        return self._api("calendar.delete", event=ev)

    def _cal_invite(self) -> str:
        f = self.ui["calendar"]["fields"]
        msg = self._api("calendar.invite", event=self._cal_sel(), email=split_addresses(f["Invitee"]))
        f["Invitee"] = ""
        return msg

    # ------------------------------------------------------------------ Settings
    def _view_settings(self) -> list[Control]:
        st = self.world.s["settings"]
        u = self.ui["settings"]

        def toggle(name: str, key: str) -> Control:
            return self._c("checkbox", name, "on" if st[key] else "off", on_click=lambda: self._toggle(key))

        def set_network(option: str) -> str:
            return self._api("settings.set", key="wifi.network", value=option)

        timeout_field = self._field("settings", "Screen lock timeout (minutes)")
        if not u["fields"]["Screen lock timeout (minutes)"]:
            timeout_field.value = str(st["screen_lock.timeout_min"])
        c = [toggle("Wi-Fi", "wifi.enabled"),
             self._c("combobox", "Wi-Fi network", st["wifi.network"], options=list(st["wifi.available"]),
                     on_type=set_network),
             toggle("Firewall", "firewall.enabled"),
             toggle("Automatic updates", "updates.automatic"),
             toggle("Screen lock", "screen_lock.enabled"),
             timeout_field,
             self._c("button", "Apply timeout", on_click=self._set_timeout),
             self._field("settings", "New user name"),
             self._c("button", "Add user", on_click=self._add_user),
             self._c("button", "Remove user", on_click=self._remove_user),
             self._c("button", "Grant admin", on_click=lambda: self._admin(True)),
             self._c("button", "Revoke admin", on_click=lambda: self._admin(False))]
        items = [Control("listitem", x["name"], ("selected, " if u["selected_user"] == x["name"] else "")
                         + ("administrator" if x["admin"] else "standard user"),
                         on_click=(lambda n=x["name"]: self._pick_user(n))) for x in st["users"]]
        return c + self._list("settings", "users", items)

    def _toggle(self, key: str) -> str:
        return self._api("settings.set", key=key, value=not self.world.s["settings"][key])

    def _pick_user(self, name: str) -> str:
        self.ui["settings"]["selected_user"] = name
        return f"selected user {name}"

    def _set_timeout(self) -> str:
        value = self.ui["settings"]["fields"]["Screen lock timeout (minutes)"]
        if not value:
            raise ToolError("type the timeout into Screen lock timeout (minutes) first")
        return self._api("settings.set", key="screen_lock.timeout_min", value=value)

    def _add_user(self) -> str:
        f = self.ui["settings"]["fields"]
        if not f["New user name"]:
            raise ToolError("type the user's name into New user name first")
        msg = self._api("settings.add_user", name=f["New user name"])
        f["New user name"] = ""
        return msg

    def _sel_user(self) -> str:
        name = self.ui["settings"]["selected_user"]
        if name is None:
            raise ToolError("select a user first (click it in the list)")
        return name

    def _remove_user(self) -> str:
        name = self._sel_user()

        def do() -> str:
            self.ui["settings"]["selected_user"] = None
            return self._api("settings.remove_user", name=name)

        return self._confirm("Remove user", f"Remove the account {name!r} and its files?", do)

    def _admin(self, admin: bool) -> str:
        return self._api("settings.set_admin", name=self._sel_user(), admin=admin)


# ---------------------------------------------------------------------- equivalent actions

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
                and ((kind == "click" and (_find(controls, action.get("target")) or {}).get("name") == "Later"))):
            return [{"type": "hotkey", "keys": "escape"}]
        return []
    taskbar = {c["name"]: c for c in controls[: len(APPS)] if c.get("role") == "button" and c.get("name") in
               APP_TITLES.values()}
    if kind == "open_app":
        title = APP_TITLES.get(_TITLE_TO_APP.get(str(action.get("app", "")).lower(), ""), None)
        return [{"type": "click", "target": taskbar[title]["label"]}] if title in taskbar else []
    if kind == "click":
        c = _find(controls, action.get("target"))
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
    if kind == "hotkey" and dialog is None:
        keys = str(action.get("keys", "")).lower().replace(" ", "")
        for app, name, hk in _BUTTON_HOTKEYS:
            if focused == app and keys == hk:
                button = next((c for c in controls if c.get("role") == "button"
                               and c.get("name") in (name, RELABEL.get(name))), None)
                return [{"type": "click", "target": button["label"]}] if button else []
    return []
