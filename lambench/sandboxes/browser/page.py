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
WARM = APP + "/health"
"""What a prepared page loads before its episode (no data, no one signed in): never a page to go back to."""
"""Milliseconds a page may take to load."""

# Labels every visible element a person can act on, in document order, and reads the page as a flat list of nodes:
# controls (with their label, role, accessible name, value, box in viewport pixels) and the text around them.
READ_JS = r"""
() => {
  const W = window.innerWidth, H = window.innerHeight;
  if (window.__lbNext === undefined) window.__lbNext = 1;
  const norm = s => (s || '').replace(/\s+/g, ' ').trim();
  const vis = el => el.checkVisibility ? el.checkVisibility({checkVisibilityCSS: true}) : el.getClientRects().length > 0;
  const isControl = el => {
    const t = el.tagName;
    if (t === 'A') return el.hasAttribute('href');
    if (t === 'INPUT') return el.type !== 'hidden';
    return t === 'BUTTON' || t === 'SELECT' || t === 'TEXTAREA' || el.getAttribute('role') === 'button';
  };
  const roleOf = el => {
    const t = el.tagName, ty = (el.type || '').toLowerCase();
    if (t === 'A') return 'link';
    if (t === 'BUTTON' || ty === 'submit' || ty === 'button' || el.getAttribute('role') === 'button') return 'button';
    if (t === 'SELECT') return 'combobox';
    if (ty === 'checkbox') return 'checkbox';
    if (ty === 'radio') return 'radio';
    return 'textbox';
  };
  const nameOf = el => {
    const aria = el.getAttribute('aria-label');
    if (aria) return norm(aria);
    if (el.labels && el.labels.length) return norm(el.labels[0].innerText);
    const t = el.tagName;
    if (t === 'A' || t === 'BUTTON' || el.getAttribute('role') === 'button') return norm(el.innerText || el.value);
    return norm(el.getAttribute('placeholder') || el.getAttribute('title') || el.name || '');
  };
  const boxOf = el => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || r.right <= 0 || r.bottom <= 0 || r.left >= W || r.top >= H) return null;
    return [Math.max(0, Math.round(r.left)), Math.max(0, Math.round(r.top)),
            Math.min(W, Math.round(r.right)), Math.min(H, Math.round(r.bottom))];
  };
  const nodes = [];
  const control = (el, depth) => {
    if (!el.dataset.lb) el.dataset.lb = String(window.__lbNext++);
    const role = roleOf(el);
    const n = {t: 'control', label: el.dataset.lb, role: role, name: nameOf(el), depth: depth, box: boxOf(el)};
    if (role === 'textbox') n.value = el.value;
    if (role === 'combobox') {
      n.options = Array.from(el.options).map(o => norm(o.text));
      n.value = el.selectedIndex >= 0 ? norm(el.options[el.selectedIndex].text) : '';
    }
    if (role === 'checkbox' || role === 'radio') n.checked = !!el.checked;
    if (el.disabled) n.disabled = true;
    const form = el.form || el.closest('form');
    if (form && (form.method || '').toLowerCase() === 'post'
        && (role === 'button' ? (el.type || 'submit') === 'submit' : role === 'textbox' && el.tagName === 'INPUT'))
      n.submits = true;
    if (document.activeElement === el) n.focused = true;
    nodes.push(n);
  };
  const inner = (el, depth) => el.querySelectorAll('a[href],button,input,select,textarea,[role=button]')
    .forEach(c => { if (isControl(c) && vis(c)) control(c, depth); });
  const walk = (el, depth) => {
    if (!vis(el)) return;
    const t = el.tagName, role = el.getAttribute('role');
    if (t === 'SCRIPT' || t === 'STYLE' || t === 'LABEL' || t === 'OPTION') return;
    if (isControl(el)) { control(el, depth); return; }
    if (role === 'dialog') {
      nodes.push({t: 'dialog', name: norm(el.getAttribute('aria-label')), depth: depth, box: boxOf(el)});
      for (const c of el.children) walk(c, depth + 1);
      return;
    }
    if (t === 'TR') {
      const cells = Array.from(el.cells).map(c => norm(c.innerText));
      nodes.push({t: el.querySelector('th') && !el.querySelector('td') ? 'header' : 'row', text: cells.join(' | '),
                  depth: depth});
      inner(el, depth + 1);
      return;
    }
    if (/^H[1-6]$/.test(t)) { nodes.push({t: 'heading', text: norm(el.innerText), depth: depth}); inner(el, depth + 1); return; }
    if (t === 'P' || t === 'PRE' || t === 'LI' || t === 'DT' || t === 'DD' || t === 'CAPTION') {
      const kids = Array.from(el.querySelectorAll('a[href],button,input,select,textarea,[role=button]'));
      if (kids.length && norm(el.innerText) === norm(kids.map(k => k.innerText || '').join(' '))) {
        inner(el, depth);  // only controls: they say it all
        return;
      }
      nodes.push({t: role === 'status' || role === 'alert' ? role : 'text', text: t === 'PRE' ? el.innerText : norm(el.innerText),
                  depth: depth});
      inner(el, depth + 1);
      return;
    }
    let own = '';
    for (const c of el.childNodes) if (c.nodeType === 3) own += c.textContent;
    own = norm(own);
    if (own) nodes.push({t: 'text', text: own, depth: depth});
    const deeper = t === 'SECTION' || t === 'FORM' || t === 'NAV' ? depth + 1 : depth;
    for (const c of el.children) walk(c, deeper);
  };
  walk(document.body, 0);
  const f = document.activeElement;
  if (!window.__lbDoc) window.__lbDoc = Math.random().toString(36).slice(2);
  return {url: location.href, title: document.title, nodes: nodes, doc: window.__lbDoc,
          focused: f && f.dataset && f.dataset.lb ? f.dataset.lb : null,
          scroll: [Math.round(window.scrollX), Math.round(window.scrollY),
                   Math.round(document.documentElement.scrollHeight)]};
}
"""

# What the harness's perturbations do to a page (idempotent: applied again after every action): sections of <main>
# reordered by CSS ``order`` (seeded per page path), buttons, links and field labels renamed, the page's content
# hidden behind "Loading…", a distractor dialog.
DECOR_JS = r"""
(d) => {
  const main = document.querySelector('main');
  if (d.order !== null && d.order !== undefined && main) {
    let h = 2166136261 >>> 0;
    const key = String(d.order) + location.pathname;
    for (let i = 0; i < key.length; i++) { h ^= key.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    const rnd = () => { h = (h + 0x6D2B79F5) >>> 0; let t = h; t = Math.imul(t ^ (t >>> 15), t | 1);
                        t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
    const secs = Array.from(main.children);
    const idx = secs.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [idx[i], idx[j]] = [idx[j], idx[i]]; }
    secs.forEach((s, i) => { s.style.order = String(idx[i]); });
  }
  if (d.relabel) {
    document.querySelectorAll('button, a, label').forEach(el => {
      const aria = el.getAttribute('aria-label');
      if (aria && d.relabel[aria]) el.setAttribute('aria-label', d.relabel[aria]);
      if (el.children.length === 0) {
        const t = el.textContent.trim();
        if (d.relabel[t]) el.textContent = d.relabel[t];
      }
    });
  }
  if (main) {
    let load = document.getElementById('lb-loading');
    if (d.loading) {
      main.style.visibility = 'hidden';
      if (!load) { load = document.createElement('p'); load.id = 'lb-loading'; load.setAttribute('role', 'status');
                   load.textContent = 'Loading…'; main.parentNode.insertBefore(load, main); }
    } else {
      main.style.visibility = '';
      if (load) load.remove();
    }
  }
  let pop = document.getElementById('lb-popup');
  if (d.popup && !pop && !window.__lbPopupClosed) {
    pop = document.createElement('div');
    pop.id = 'lb-popup';
    pop.style.cssText = 'position:fixed;inset:0;background:rgba(0,0,0,.35);z-index:2147483647;display:flex;' +
                        'align-items:center;justify-content:center';
    const box = document.createElement('div');
    box.setAttribute('role', 'dialog'); box.setAttribute('aria-label', 'Software update'); box.setAttribute('aria-modal', 'true');
    box.style.cssText = 'background:#fff;padding:1.5em;border:1px solid #888;min-width:320px;font-family:sans-serif';
    const p = document.createElement('p'); p.textContent = 'A software update is ready. Restart now to install it?';
    box.appendChild(p);
    for (const [text, id] of [['Restart now', 'restart'], ['Later', 'later']]) {
      const b = document.createElement('button'); b.type = 'button'; b.textContent = text; b.style.marginRight = '1em';
      b.onclick = () => { window.__lbPopupClosed = id; pop.remove(); };
      box.appendChild(b);
    }
    pop.appendChild(box);
    document.body.appendChild(pop);
  } else if (!d.popup && pop) {
    pop.remove();
  }
  return window.__lbPopupClosed || null;
}
"""

DECOR_READ_JS = ("(d) => { const closed = (" + DECOR_JS.strip() + ")(d); const snap = (" + READ_JS.strip()
                 + ")(); snap.popup_closed = closed; return snap; }")
"""Both in one call: the perturbations applied, then the page read (one round trip to the page)."""

PICK_JS = r"""
(s, o) => {
  const n = x => x.replace(/\s+/g, ' ').trim().toLowerCase();
  const opts = Array.from(s.options);
  let i = opts.findIndex(x => n(x.text) === n(o));
  return i >= 0 ? i : opts.findIndex(x => x.value === o);
}
"""


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
        ctx.on("request", lambda r: self.posted.append(r.url[len(APP):]) if r.method != "GET" else None)
        self.context, self.fresh = ctx, True
        self.page = ctx.new_page()
        self.page.on("crash", lambda *_: setattr(self, "crashed", True))
        self.page.on("dialog", lambda dlg: dlg.dismiss())  # alert/confirm/prompt of a page: dismissed
        self.page.on("popup", lambda p: p.close())  # new windows: the agent has one tab

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
        return snap

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

        before = page.url
        self.posted = []
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
                    page.wait_for_load_state("load", timeout=NAV_TIMEOUT)
        except Exception as exc:
            error = self._explain(exc, a)
            if "did not finish loading" in error:
                self._stop_loading()
        out = self.read(req)
        out["error"] = error
        out["posted"] = list(self.posted)
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
        try:
            cdp = self.context.new_cdp_session(self.page)
            cdp.send("Page.stopLoading")
            cdp.detach()
        except Exception:
            pass

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
           "ping": b.ping, "close": b.close}
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
