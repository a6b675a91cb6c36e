"""The in-container side of the browser sandbox: one long-lived process per container that drives Debian's Chromium
through Playwright's Python package (``/opt/pw`` in the image), speaking JSON lines on stdin/stdout like the
container driver (``lambench.sandboxes.containers.driver``).  It runs under the image's ``python3``, never the
harness's interpreter, and is sent into the container as source with each session.

The browser is launched once per container (a warm pool keeps one ready); each episode gets a fresh browser context
(no cookies, storage or history of another episode) whose only reachable origin is the app on the container's
loopback interface.  Elements get labels (``data-lb``) in document order when the page is read; the page's
accessibility tree, its URL, the focused element and (on request) a PNG of the viewport are what the harness sees.
"""

import base64
import json
import os
import sys
import time

APP = "http://127.0.0.1:8080"
WIDTH, HEIGHT = 1024, 768
ACTION_TIMEOUT = 4000
"""Milliseconds an action may wait for its element to be actionable (visible, enabled, not covered)."""
NAV_TIMEOUT = 10000
"""Milliseconds a page may take to load."""
WARM = APP + "/health"
"""What a prepared page loads before its episode (no data, no one signed in): never a page to go back to."""

if __name__ != "__main__":  # on the host; in the container the program holds page_scripts.py's source first
    from lambench.sandboxes.browser.page_scripts import DECOR_READ_JS, PICK_JS  # noqa: F401


class Browser:
    def __init__(self):
        self.pw = None
        self.browser = None
        self.context = None
        self.page = None
        self.crashed = False
        self.fresh = False
        self.decor = {}
        self.posted = []
        self.navigations = 0

    # ------------------------------------------------------------------ lifecycle
    def launch(self, req):
        from playwright.sync_api import sync_playwright

        t0 = time.monotonic()
        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(
            executable_path=os.environ.get("LB_CHROMIUM", "/usr/bin/chromium"), headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-extensions", "--disable-sync",
                  "--metrics-recording-only", "--mute-audio"])
        if req.get("prepare"):  # the next episode's context and page, made ahead, its renderer warmed on the app
            self._new_context()
            self._nav(lambda: self.page.goto(WARM, wait_until="load"))
        return {"seconds": time.monotonic() - t0}

    def _new_context(self):
        ctx = self.browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1,
                                       java_script_enabled=True, accept_downloads=False, service_workers="block")
        ctx.set_default_timeout(ACTION_TIMEOUT)
        ctx.set_default_navigation_timeout(NAV_TIMEOUT)
        ctx.route("**/*", self._route)
        self.posted = []
        ctx.on("request", self._request)
        self.context, self.fresh = ctx, True
        self.page = ctx.new_page()
        self.page.on("crash", lambda *_: setattr(self, "crashed", True))
        self.page.on("dialog", lambda dlg: dlg.dismiss())  # alert/confirm/prompt of a page: dismissed
        self.page.on("popup", lambda p: p.close())  # new windows: the agent has one tab

    def _request(self, r):
        """Every request of the page: a post is what reaches the app's state (the harness's safety rules look at
        each); a navigation of the main frame is a page on its way (one that never answers is stopped)."""
        if r.method != "GET":
            self.posted.append(r.url[len(APP):])
        if r.is_navigation_request() and r.frame.parent_frame is None:
            self.navigations += 1

    def _drain(self, out):
        """Hand over the posts seen since the last reply (each reported once, whichever reply carries it)."""
        out["posted"], self.posted = self.posted, []
        return out

    def open(self, req):
        """A fresh context and page (one made ahead and never used, or a new one; the previous episode's are
        closed), signed in, at ``path``."""
        t0 = time.monotonic()
        if self.browser is None:
            self.launch({})
        if not (self.context is not None and self.fresh):
            if self.context is not None:
                try:
                    self.context.close()
                except Exception:
                    pass
            self._new_context()
        self.fresh = False
        self.crashed = False
        self.decor = req.get("decor") or {}
        # who is signed in: out of the page's reach (no script can read or replace an HttpOnly cookie)
        self.context.add_cookies([{"name": k, "value": v, "url": APP, "httpOnly": True, "sameSite": "Strict"}
                                  for k, v in (req.get("cookies") or {}).items()])
        t1 = time.monotonic()
        error = self._nav(lambda: self.page.goto(APP + req.get("path", "/"), wait_until="load"))
        t2 = time.monotonic()
        if error:
            self._stop_loading()
        out = self.read(req)
        out["timing"] = [t1 - t0, t2 - t1, time.monotonic() - t2]
        if error:
            out["nav_error"] = error
        return out

    def _route(self, route):
        url = route.request.url
        if url == APP or url.startswith(APP + "/"):
            route.continue_()
        elif url.startswith("data:") or url.startswith("about:"):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def _nav(self, fn):
        """Run a navigating call; a clear message when the page does not load in time (the page stays as it is)."""
        try:
            fn()
            return None
        except Exception as exc:
            name = type(exc).__name__
            if "Timeout" in name:
                return "the page did not finish loading within %d s" % (NAV_TIMEOUT // 1000)
            return str(exc).split("\n")[0][:300]

    # ------------------------------------------------------------------ reading
    def read(self, req):
        if self.crashed:
            raise RuntimeError("the page crashed")
        try:
            snap = self.page.evaluate(DECOR_READ_JS, req.get("decor", self.decor))
        except Exception as exc:  # mid-navigation: wait for the new document once
            try:
                self.page.wait_for_load_state("load", timeout=NAV_TIMEOUT)
                snap = self.page.evaluate(DECOR_READ_JS, req.get("decor", self.decor))
            except Exception:
                raise RuntimeError("the page cannot be read: %s" % str(exc).split("\n")[0][:300])
        if req.get("screenshot"):
            snap["png"] = base64.b64encode(self.page.screenshot(type="png", animations="disabled",
                                                                caret="initial")).decode()
        return self._drain(snap)

    def screenshot(self, req):
        return {"png": base64.b64encode(self.page.screenshot(type="png", animations="disabled",
                                                             caret="initial")).decode()}

    # ------------------------------------------------------------------ acting
    def act(self, req):
        """One action; ``navigates`` says whether it may load a page (a link, a submit button, Enter in a form)."""
        a = req["action"]
        kind = a["type"]
        page = self.page
        self.decor = req.get("decor", self.decor)
        el = page.locator('[data-lb="%s"]' % a["label"]) if a.get("label") else None
        error = None

        before, navigations = page.url, self.navigations
        try:
            if a.get("navigates"):
                failed = []
                try:
                    with page.expect_navigation(wait_until="commit", timeout=NAV_TIMEOUT):
                        try:
                            self._do(kind, a, el)
                        except Exception as exc:  # the action itself failed: that is the error
                            failed.append(exc)
                            raise
                except Exception as exc:
                    if failed:
                        raise failed[0]
                    if "Timeout" not in type(exc).__name__ or page.url != before:
                        raise
                    if self.navigations != navigations:  # a page was asked for and never came: it hangs
                        raise TimeoutError("the page did not finish loading")
                    # no navigation came (a form that did not submit, a disabled button): as it is
                else:
                    page.wait_for_load_state("load", timeout=NAV_TIMEOUT)
                if kind == "back" and (not page.url.startswith(APP) or page.url == WARM):
                    page.go_forward(wait_until="load")
                    error = "there is no earlier page to go back to"
            else:
                self._do(kind, a, el)
                if kind == "hotkey":  # a key may submit a form or go back: let what it started load
                    page.wait_for_timeout(100)
                    if self.navigations != navigations:
                        try:
                            page.wait_for_load_state("load", timeout=NAV_TIMEOUT)
                        except Exception:
                            raise TimeoutError("the page did not finish loading") from None
        except Exception as exc:
            error = self._explain(exc, a)
            if "did not finish loading" in error:
                self._stop_loading()
        out = self.read(req)
        out["error"] = error
        return out

    def _do(self, kind, a, el):
        """The action itself (without waiting for what it loads)."""
        page = self.page
        if kind in ("click", "double_click"):
            if el is not None:
                (el.click if kind == "click" else el.dblclick)(timeout=ACTION_TIMEOUT)
            else:
                (page.mouse.click if kind == "click" else page.mouse.dblclick)(a["x"], a["y"])
        elif kind == "hover":
            if el is not None:
                el.hover(timeout=ACTION_TIMEOUT)
            else:
                page.mouse.move(a["x"], a["y"])
        elif kind == "type":
            target = el if el is not None else page.locator(":focus")
            target.fill(a["text"], timeout=ACTION_TIMEOUT)
        elif kind == "select":  # an option by its text (spacing and case aside), else by its value
            i = el.evaluate(PICK_JS, a["option"])
            if i < 0:
                raise ValueError("did not find some options")
            el.select_option(index=i, timeout=ACTION_TIMEOUT)
        elif kind == "hotkey":
            page.keyboard.press(a["keys"])
        elif kind == "scroll":
            dy = 600 if a.get("direction", "down") == "down" else -600
            if a.get("x") is not None:
                page.mouse.move(a["x"], a["y"])
            elif el is not None:
                el.hover(timeout=ACTION_TIMEOUT)
            page.mouse.wheel(0, dy)
            page.wait_for_timeout(50)
        elif kind == "back":
            page.go_back(wait_until="commit")
        elif kind == "goto":
            page.goto(APP + a["path"], wait_until="commit")
        elif kind == "wait":
            page.wait_for_timeout(int(a.get("ms", 300)))

    def _stop_loading(self):
        """Give up a navigation that hangs (the page stays as it was, as a person's Stop button leaves it): until
        then the page cannot be read."""
        cdp = None
        try:
            cdp = self.context.new_cdp_session(self.page)
            cdp.send("Page.stopLoading")
        except Exception:
            pass
        finally:
            if cdp is not None:
                try:
                    cdp.detach()
                except Exception:
                    pass

    def stop(self, req):
        """Before the judge reads the state: nothing of the page may still be on its way to the app."""
        if self.context is not None:
            self._stop_loading()
            try:
                self.context.close()
            except Exception:
                pass
            self.context = None
        return {}

    def _explain(self, exc, a):
        text = str(exc)
        first = text.split("\n")[0]
        what = ("element [%s]" % a["label"]) if a.get("label") else "the point"
        if "intercepts pointer events" in text:
            return "%s is covered by another element (a dialog?); the action did not reach it" % what
        if "not visible" in text or "element is not visible" in text:
            return "%s is not visible" % what
        if "not enabled" in text or "disabled" in text:
            return "%s is disabled" % what
        if "did not find some options" in text or "options" in first and a["type"] == "select":
            return "%s has no option %r" % (what, a.get("option"))
        if "not an <input>" in text or "Element is not an" in text:
            return "%s cannot be typed into" % what
        if "did not finish loading" in text or "Timeout" in type(exc).__name__ and (
                a["type"] in ("goto", "back") or a.get("navigates")):
            return "the page did not finish loading within %d s; it was stopped" % (NAV_TIMEOUT // 1000)
        if "Timeout" in type(exc).__name__:
            if a["type"] in ("goto", "back") or a.get("navigates"):
                return "the page did not finish loading within %d s" % (NAV_TIMEOUT // 1000)
            return "%s could not be acted on within %d s (covered, hidden or disabled)" % (what, ACTION_TIMEOUT // 1000)
        if "Unknown key" in text:
            return "unknown key %r" % a.get("keys")
        return first[:300]

    def ping(self, req):
        alive = self.browser is not None and self.browser.is_connected() and not self.crashed
        if self.page is not None and alive:
            try:
                self.page.evaluate("1")
            except Exception:
                alive = False
        return {"alive": alive}

    def close(self, req):
        for fn in (lambda: self.context and self.context.close(), lambda: self.browser and self.browser.close(),
                   lambda: self.pw and self.pw.stop()):
            try:
                fn()
            except Exception:
                pass
        return {}


def main():
    b = Browser()
    ops = {"launch": b.launch, "open": b.open, "act": b.act, "read": b.read, "screenshot": b.screenshot,
           "ping": b.ping, "stop": b.stop, "close": b.close}
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            reply = ops[req["op"]](req)
            reply["ok"] = True
        except Exception as exc:
            reply = {"ok": False, "error": "%s: %s" % (type(exc).__name__, str(exc).split("\n")[0][:500])}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
