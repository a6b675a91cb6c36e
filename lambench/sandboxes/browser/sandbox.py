"""``lambench/BrowserGUI-v0``: the web app's back office in a real Chromium, driven through its HTML pages.

The container holds the app (as in the web-app sandbox) and Debian's Chromium, driven by Playwright from a process in
the same container (:mod:`lambench.sandboxes.browser.page`): no network at all, the app on the loopback interface,
every other origin blocked.  A warm pool keeps a container with its browser launched; each episode takes a fresh
container (a fresh database) and opens a fresh browser context in it, signed in as the task's staff user.

The agent sees the page as an accessibility tree whose elements carry labels (``[12] button 'Save details'``), with
the URL and the focused element, and in the image modes a screenshot of the 1024x768 viewport.  It acts by label or
name, or at points of the screenshot: click, double-click, hover, type, select, press keys, scroll, go back, open a
page of the app.  The checks are the web-app sandbox's: SQL on the database after the episode.
"""

from __future__ import annotations

import base64
import io
import random
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lambench.action import (AskUser, Back, Click, DoubleClick, Drag, Finish, Goto, Hotkey, Hover, OpenApp, Scroll,
                             Select, TypeText, Wait, action_tool_definitions)
from lambench.sandboxes.base import ExecResult, SandboxBroken, SandboxError
from lambench.sandboxes.containers import Container, Driver, Limits, image_for, run_id, warm_pool
from lambench.sandboxes.containers.container import DriverError, SessionError
from lambench.sandboxes.browser.plugin import RELABEL
from lambench.sandboxes.webapp.sandbox import PORT, WebAppSandbox

__all__ = ["BrowserSandbox", "PAGE_SOURCE", "APP", "render_tree", "RELABEL"]

APP = f"http://127.0.0.1:{PORT}"
WIDTH, HEIGHT = 1024, 768
PAGE_SOURCE = "".join(Path(__file__).with_name(f).read_text() for f in ("page_scripts.py", "page.py"))
"""The in-container program: the page scripts, then the page process (stdlib + Playwright only)."""
TRANSIENT = ("The server is temporarily unavailable (HTTP 503); nothing was saved. Try again.")
_KEYS = {"enter": "Enter", "return": "Enter", "escape": "Escape", "esc": "Escape", "tab": "Tab", "space": "Space",
         "backspace": "Backspace", "delete": "Delete", "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft",
         "right": "ArrowRight", "pageup": "PageUp", "pagedown": "PageDown", "home": "Home", "end": "End",
         "ctrl": "Control", "control": "Control", "alt": "Alt", "shift": "Shift", "cmd": "Meta", "meta": "Meta",
         "super": "Meta"}


def _key_combo(keys: str) -> str | None:
    """``ctrl+a`` -> ``Control+a``; None for a key the browser does not know."""
    out = []
    for part in keys.replace(" ", "").split("+"):
        low = part.lower()
        if low in _KEYS:
            out.append(_KEYS[low])
        elif len(part) == 1 or re.fullmatch(r"[Ff]([1-9]|1[0-2])", part):
            out.append(part.upper() if len(part) > 1 else part)
        else:
            return None
    return "+".join(out) if out else None


def _new_container() -> Container:
    return Container(image_for("browser"), run_id=run_id(), workdir="/data", command=None,
                     limits=Limits(memory="1536m", cpus=2.0, pids=512, command_timeout=30.0),
                     env={"HOME": "/tmp", "XDG_CONFIG_HOME": "/tmp/.config", "XDG_CACHE_HOME": "/tmp/.cache"},
                     tmpfs={"/tmp": "rw,exec,size=512m,nr_inodes=20000,mode=1777"})


def _prepare(c: Any) -> None:
    c.driver.request("wait_http", port=PORT, path="/health", timeout=30, wait=45)
    c.browser = Driver(c, source=PAGE_SOURCE, timeout=60)
    c.sessions.append(c.browser)
    c.browser.request("launch", prepare=True, wait=60)  # the browser up, the episode's context made ahead


def _pool():
    return warm_pool(("browser",), _new_container, prepare=_prepare)


def _q(text: Any, limit: int = 300) -> str:
    s = str(text)
    if len(s) > limit:
        s = s[:limit] + "…"
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def render_tree(snap: dict[str, Any]) -> str:
    """The page as text: its address, title and focused element, then one line per node (indented by depth)."""
    url = urlsplit(snap.get("url", ""))
    where = (url.path or "/") + (f"?{url.query}" if url.query else "")
    lines = [f"Page: {where}  (app at {APP})", f"Title: {snap.get('title', '')}"]
    focused = next((n for n in snap.get("nodes", []) if n.get("t") == "control" and n.get("focused")), None)
    lines.append("Focused: " + (f"[{focused['label']}] {focused['role']} {_q(focused['name'])}" if focused else "none"))
    sx, sy, total = (snap.get("scroll") or [0, 0, 0])[:3]
    if total > HEIGHT:
        lines.append(f"Scrolled to {sy} of {total} px (the screenshot shows {HEIGHT}; everything is listed below)")
    for n in snap.get("nodes", []):
        pad = "  " * min(int(n.get("depth", 0)), 6)
        t = n.get("t")
        if t == "control":
            line = f"[{n['label']}] {n['role']} {_q(n['name'])}"
            if "value" in n and n["role"] in ("textbox", "combobox"):
                line += f" value={_q(n['value'], 1000)}"
            if n.get("options"):
                line += " options=[" + ", ".join(_q(o, 60) for o in n["options"][:40]) + "]"
            if n.get("checked") is not None:
                line += " checked" if n["checked"] else " unchecked"
            if n.get("disabled"):
                line += " disabled"
        elif t == "dialog":
            line = f"dialog {_q(n.get('name', ''))}"
        elif t in ("row", "header"):
            line = ("columns " if t == "header" else "row ") + _q(n.get("text", ""), 2000)
        elif t == "heading":
            line = f"heading {_q(n.get('text', ''))}"
        elif t in ("status", "alert"):
            line = f"{t} {_q(n.get('text', ''), 1000)}"
        else:
            line = f"text {_q(n.get('text', ''), 4000)}"
        lines.append(pad + line)
    return "\n".join(lines)


class _Screen:
    """The viewport's boxes of the observation's controls (what the env attaches to each control)."""

    def __init__(self, controls: list[dict[str, Any]]):
        self._boxes = [tuple(c["box"]) if c.get("box") else None for c in controls]

    def boxes(self) -> list[Any]:
        return self._boxes


class BrowserSandbox(WebAppSandbox):
    """A fresh container per episode (warm pool, browser launched); a fresh browser context signed in as the user."""

    name = "browser"
    label = "browser"
    screen_size = (WIDTH, HEIGHT)

    def __init__(self) -> None:
        super().__init__()
        self._snap: dict[str, Any] = {}
        self._png: bytes | None = None
        self._names: tuple[str, ...] = ()
        self._rng = random.Random(0)
        self._actions = 0
        self._popup_at: int | None = None
        self._popup_closed = False
        self._transient = False
        self._loading = 0
        self._doc: Any = None
        self._stopped = False
        self._shots = False

    # ------------------------------------------------------------------ episode
    def reset(self, task: Any, seed: int, variant: Any = None) -> dict[str, Any]:
        names = tuple(variant.perturbations) if variant is not None else ()
        self._names = names
        self._rng = random.Random(f"browser:{task.id}:{seed}")
        self._seed = seed
        self._actions = 0
        self._stopped = False
        self._popup_at = self._rng.randint(2, 3) if "popup" in names else None
        self._popup_closed = False
        self._transient = "transient-error" in names
        self._loading = 0
        try:
            self._start(task, variant, _pool, refill=False)
            snap = self._page("open", path="/", cookies={"lb_staff": self.user}, decor=self._decor(), wait=60)
        except SandboxBroken as exc:  # before the agent's first action: nothing it did
            raise SandboxError(str(exc)) from None
        finally:  # the next episode's container starts now, not while this one's page loads
            if self._pool is not None:
                self._pool.refill()
        if snap.get("nav_error"):
            raise SandboxError(f"the browser sandbox could not open the app: {snap['nav_error']}")
        self._took(snap, fresh=True)
        return self.observe()

    def _after_setup(self) -> None:
        pass  # no API tools here: the agent has the pages

    def _decor(self) -> dict[str, Any]:
        return {"order": self._seed if "layout-shuffle" in self._names else None,
                "relabel": RELABEL if "relabel" in self._names else None,
                "loading": self._loading > 0,
                "popup": self._popup_at is not None and not self._popup_closed and self._actions >= self._popup_at}

    def _page(self, op: str, *, wait: float = 30.0, **args: Any) -> dict[str, Any]:
        """One request to the browser process: a broken session is the agent's doing once it has acted (the app's
        pages are what it drove the browser to), an infrastructure error before."""
        b = getattr(self.c, "browser", None) if self.c is not None else None
        if b is None:
            raise SandboxError("the browser sandbox is not running (reset() first)")
        try:
            return b.request(op, wait=wait, **args)
        except SessionError as exc:
            raise self.session_failed(op, exc) from None
        except DriverError as exc:
            # the pages are what the agent drove the browser to: once it has acted, a browser that fails is its
            # outcome (scored, never retried); before, or on a crash the harness could not have caused, not
            if self._actions or "crash" in str(exc).lower() or "closed" in str(exc).lower():
                raise SandboxBroken(f"the browser broke during {op!r}: {exc}") from None
            raise SandboxError(f"the browser sandbox ({op}): {exc}") from None

    def _took(self, snap: dict[str, Any], *, fresh: bool = False) -> None:
        self._snap = snap
        self._png = base64.b64decode(snap["png"]) if snap.get("png") else None
        if snap.get("popup_closed"):
            self._popup_closed = True

    def ping(self) -> None:
        super().ping()
        if not self._page("ping", wait=15).get("alive"):
            raise SandboxError("the browser is not running")

    def quiesce(self) -> int:
        """Before the judge reads the database: the page's pending loads stopped and its context closed, so no form
        post the agent started can land while (or after) it is judged."""
        if self.c is not None and getattr(self.c, "browser", None) is not None and not self._stopped:
            try:
                if self._shots and self._png is None:  # the last screen, for the episode's final observation
                    self._png = base64.b64decode(self._page("screenshot")["png"])
                self._page("stop", wait=30)
            except SandboxError:
                pass  # a broken browser sends nothing more
            self._stopped = True
        return super().quiesce()

    def close(self) -> None:
        b = getattr(self.c, "browser", None) if self.c is not None else None
        if b is not None:
            b.close()
        super().close()

    # ------------------------------------------------------------------ what the agent sees
    def _controls(self) -> list[dict[str, Any]]:
        out = []
        for n in self._snap.get("nodes", []):
            if n.get("t") == "control":
                c = {"label": n["label"], "role": n["role"], "name": n["name"], "box": n.get("box")}
                for k in ("value", "options", "checked", "disabled", "focused", "submits"):
                    if k in n:
                        c[k] = n[k]
                out.append(c)
            elif n.get("t") in ("dialog", "status", "alert"):
                out.append({"label": "", "role": n["t"], "name": n.get("name") or n.get("text", ""),
                            "box": n.get("box")})
        return out

    def observe(self) -> dict[str, Any]:
        controls = self._controls()
        focused = next((c for c in controls if c.get("focused")), None)
        return {"text": render_tree(self._snap), "controls": controls,
                "focused": f"[{focused['label']}] {focused['name']}" if focused else urlsplit(
                    self._snap.get("url", "")).path or "/"}

    def screen(self) -> _Screen:
        return _Screen(self._controls())

    def screenshot(self, marks: bool = False) -> Any:
        from PIL import Image

        self._shots = True
        if self._png is None:
            if self._stopped:  # judged: the page is closed (quiesce kept the last screen when one was wanted)
                return Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
            else:
                self._png = base64.b64decode(self._page("screenshot")["png"])
        img = Image.open(io.BytesIO(self._png)).convert("RGB")
        if marks:
            from lambench.sandboxes.mockos.screen import draw_marks

            draw_marks(img, [(c["label"], c["box"]) for c in self._controls() if c["label"] and c.get("box")])
        return img

    def tools(self) -> list[dict[str, Any]]:
        return action_tool_definitions(("click", "type", "select", "hover", "hotkey", "scroll", "back", "goto", "wait",
                                        "ask_user", "finish"))

    # ------------------------------------------------------------------ acting
    def _find(self, target: str) -> tuple[dict[str, Any] | None, str | None]:
        controls = [c for c in self._controls() if c["label"]]
        t = target.strip()
        if t.startswith("[") and t.endswith("]"):
            t = t[1:-1].strip()
        for c in controls:
            if c["label"] == t:
                return c, None
        norm = " ".join(t.split()).casefold()
        named = [c for c in controls if " ".join(c["name"].split()).casefold() == norm]
        if len(named) == 1:
            return named[0], None
        if len(named) > 1:
            return None, (f"{len(named)} elements are named {target!r} "
                          f"({', '.join('[' + c['label'] + '] ' + c['role'] for c in named[:6])}); use a label")
        return None, (f"no element labelled or named {target!r} on this page (labels change when the page changes: "
                      "read the latest observation)")

    def _at(self, x: int, y: int) -> dict[str, Any] | None:
        """The smallest labelled control whose box holds the point (what a click there reaches, barring overlays)."""
        best = None
        dialog = self._dialog()
        controls = self._controls()
        if dialog is not None:  # the dialog's backdrop covers the page: only the dialog's own controls are reachable
            d = dialog.get("box") or (0, 0, 0, 0)
            controls = [c for c in controls if c.get("box") and d[0] <= c["box"][0] and c["box"][2] <= d[2]
                        and d[1] <= c["box"][1] and c["box"][3] <= d[3]]
        for c in controls:
            b = c.get("box")
            if c["label"] and b and b[0] <= x < b[2] and b[1] <= y < b[3]:
                if best is None or (b[2] - b[0]) * (b[3] - b[1]) < (best["box"][2] - best["box"][0]) * (
                        best["box"][3] - best["box"][1]):
                    best = c
        return best

    def execute(self, action: Any) -> ExecResult:
        if isinstance(action, Finish):
            return ExecResult(ok=True, message="finished")
        if isinstance(action, AskUser):
            return ExecResult(ok=True, message="asked")
        if isinstance(action, (Drag, OpenApp)) or type(action).__name__ in ("Call", "Shell"):
            return ExecResult(ok=False, message=f"{action.type!r} actions do not apply here: this is a web page in a "
                                                "browser; click, type, select, hover, hotkey, scroll, back, goto")
        aimed = self._aim(action)
        if isinstance(aimed, ExecResult):
            return aimed
        req, control = aimed
        if self._dialog() is not None and isinstance(action, (TypeText, Select, Hotkey)):
            return ExecResult(ok=False, message="a dialog is open and has the focus (Software update): answer it "
                                                "first")
        submits = self._submits(action, control, req)
        req["navigates"] = submits or isinstance(action, (Goto, Back)) or bool(
            control is not None and control["role"] == "link" and isinstance(action, (Click, DoubleClick)))
        self._actions += 1
        if self._loading > 0:
            self._loading -= 1
        if submits and self._transient:
            self._transient = False
            snap = self._page("read", decor=self._decor())
            self._took(snap)
            return ExecResult(ok=False, message=TRANSIENT)
        snap = self._page("act", action=req, decor=self._decor(), wait=90)
        if snap.get("doc") != self._snap.get("doc") and "delayed-ui" in self._names:
            self._loading = self._rng.randint(1, 2)  # a new page: its content shows after one or two more steps
            again = self._page("read", decor=self._decor())
            snap = {**again, "posted": snap.get("posted", []) + again.get("posted", []), "error": snap.get("error")}
        self._took(snap)
        # what reached the app: each form posted is an operation the safety rules look at
        ops = [{"op": "browser.post", "args": {"path": p}} for p in snap.get("posted", [])]
        if snap.get("error"):
            return ExecResult(ok=False, message=snap["error"], ops=ops)
        where = urlsplit(snap.get("url", "")).path or "/"
        message = {"goto": f"opened {where}", "back": f"went back to {where}"}.get(action.type, f"{action.type} done")
        if req["navigates"] and action.type not in ("goto", "back"):
            message += f"; now at {where}"
        return ExecResult(ok=True, message=message, ops=ops)

    def _dialog(self) -> dict[str, Any] | None:
        return next((c for c in self._controls() if c["role"] == "dialog"), None)

    @staticmethod
    def _submits(action: Any, control: dict[str, Any] | None, req: dict[str, Any]) -> bool:
        """Whether the action sends a form to the app: a click on its submit button, or a key that submits (Enter in
        one of its fields, Enter or Space on its button)."""
        if control is None or not control.get("submits"):
            return False
        if isinstance(action, (Click, DoubleClick)):
            return control["role"] == "button"
        if isinstance(action, Hotkey):
            keys = ("Enter", " ", "Space") if control["role"] == "button" else ("Enter",)
            return req.get("keys") in keys
        return False

    def _aim(self, action: Any) -> ExecResult | tuple[dict[str, Any], dict[str, Any] | None]:
        """The request for the page process, and the control the action reaches (by label, name, point or focus);
        or the error observation of an action that cannot be done as asked."""
        req: dict[str, Any] = {"type": action.type}
        control = None
        if isinstance(action, (Click, DoubleClick, Hover, Scroll)) and action.point is not None:
            x, y = action.point
            if not (0 <= x < WIDTH and 0 <= y < HEIGHT):
                return ExecResult(ok=False, message=f"the point ({x}, {y}) is outside the screenshot "
                                                    f"({WIDTH}x{HEIGHT} pixels)")
            req.update(x=x, y=y)
            control = self._at(x, y)
        elif isinstance(action, (Click, DoubleClick, Hover, Select)) or (
                isinstance(action, (TypeText, Scroll)) and action.target):
            control, err = self._find(action.target)
            if control is None:
                return ExecResult(ok=False, message=err or "no such element")
            req["label"] = control["label"]
        elif isinstance(action, TypeText):  # the focused field
            control = next((c for c in self._controls() if c.get("focused")), None)
            if control is None or control["role"] != "textbox":
                return ExecResult(ok=False, message="no text field has the focus: click one first, or give a target")
            req["label"] = control["label"]
        if isinstance(action, TypeText):
            if control["role"] != "textbox":
                return ExecResult(ok=False, message=f"[{control['label']}] is a {control['role']}, not a text field")
            req["text"] = action.text
        elif isinstance(action, Select):
            if control["role"] != "combobox":
                return ExecResult(ok=False, message=f"[{control['label']}] is a {control['role']}, not a list to "
                                                    "select from")
            req["option"] = action.option
        elif isinstance(action, Scroll):
            req["direction"] = action.direction
        elif isinstance(action, Hotkey):
            combo = _key_combo(action.keys)
            if combo is None:
                return ExecResult(ok=False, message=f"unknown key {action.keys!r}: use names like enter, escape, tab, "
                                                    "ctrl+a, pagedown")
            req["keys"] = combo
            control = next((c for c in self._controls() if c.get("focused")), None)
        elif isinstance(action, Goto):
            path = self._app_path(action.url)
            if path is None:
                return ExecResult(ok=False, message=f"only pages of the app can be opened ({APP}/...); "
                                                    f"{action.url!r} is not one")
            req["path"] = path
        elif isinstance(action, Wait):
            req["ms"] = 300
        return req, control

    @staticmethod
    def _app_path(url: str) -> str | None:
        u = url.strip()
        if u.startswith("/") and not u.startswith("//"):
            return u
        parts = urlsplit(u)
        if parts.scheme == "http" and parts.netloc in ("127.0.0.1:8080", "localhost:8080"):
            return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return None
