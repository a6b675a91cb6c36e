"""The web app's HTML user interface (sandboxes/webapp/app/server.py): plain forms posted to /ui/op/<opId>,
run through the same checks and handlers as the JSON API. One real server for the module; requests go
through urllib with the lb_staff cookie and redirects are not followed (303 + Location + lb_flash)."""

import importlib.util
import re
import sqlite3
import sys
import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import unquote, urlencode

import pytest

from tests.test_webapp_app import SERVER, App


def _load_server():
    spec = importlib.util.spec_from_file_location("lambench_webapp_ui_server", SERVER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


MOD = _load_server()
UI_FORMS, ROUTES = MOD.UI_FORMS, MOD.ROUTES
WRITE_OPS = {r.op_id: r for r in ROUTES if r.method != "GET"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class Reply:
    def __init__(self, status, headers, text):
        self.status, self.headers, self.text = status, headers, text

    @property
    def location(self):
        return self.headers.get("Location")

    @property
    def flash(self):
        """(kind, message) from the Set-Cookie lb_flash=kind.message."""
        m = re.match(r"lb_flash=([^;]*)", self.headers.get("Set-Cookie") or "")
        if not m or not m.group(1):
            return None
        kind, _, message = unquote(m.group(1)).partition(".")
        return kind, message


def request(app, method, path, form=None, *, user="jordan", cookies=None):
    data = None if form is None else urlencode(form).encode()
    req = urllib.request.Request(app.url + path, data=data, method=method)
    jar = dict(cookies or {})
    if user:
        jar["lb_staff"] = user
    if jar:
        req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in jar.items()))
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with OPENER.open(req, timeout=10) as resp:
            return Reply(resp.status, resp.headers, resp.read().decode())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers, exc.read().decode())


class Forms(HTMLParser):
    """Each form of a page: data-op, action, labels (text -> for), controls (name -> value as a browser would
    send it, id -> name) and the buttons' accessible names."""

    def __init__(self, text):
        super().__init__()
        self.forms, self.form, self.label, self.button, self.select, self.textarea = [], None, None, None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.form = {"op": a.get("data-op"), "action": a.get("action"), "method": a.get("method"),
                         "labels": {}, "values": {}, "ids": {}, "buttons": []}
            self.forms.append(self.form)
        if self.form is None:
            return
        if tag == "label":
            self.label = [a.get("for"), ""]
        elif tag == "input":
            self.form["values"][a["name"]] = a.get("value", "")
            if a.get("id"):
                self.form["ids"][a["id"]] = a["name"]
        elif tag == "select":
            self.select = a["name"]
            self.form["ids"][a["id"]] = a["name"]
            self.form["values"].setdefault(a["name"], None)
        elif tag == "option":
            if self.form["values"][self.select] is None or "selected" in a:
                self.form["values"][self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.form["ids"][a["id"]] = a["name"]
            self.form["values"][a["name"]] = ""
        elif tag == "button":
            self.button = [a.get("aria-label"), ""]

    def handle_data(self, data):
        if self.label is not None:
            self.label[1] += data
        if self.button is not None:
            self.button[1] += data
        if self.textarea is not None:
            self.form["values"][self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "label" and self.label:
            self.form["labels"][self.label[1]] = self.label[0]
            self.label = None
        elif tag == "button" and self.button:
            self.form["buttons"].append(self.button[0] or self.button[1])
            self.button = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def find(self, op, button=None):
        found = [f for f in self.forms if f["op"] == op and (button is None or button in f["buttons"])]
        assert len(found) == 1, (op, button, [f["op"] for f in self.forms])
        return found[0]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui")
    a = App(folder / "app.db", folder)
    yield a
    a.stop()


def get(app, path, user="jordan"):
    reply = request(app, "GET", path, user=user)
    assert reply.status == 200, (path, reply.status, reply.text[:500])
    return reply.text


def submit(app, page_path, op, changes=None, *, button=None, user="jordan", extra=None):
    """Fill the form of ``op`` found on ``page_path`` like a person: its shown values, the labels' fields
    changed as given ({label: value}), then post it."""
    form = Forms(get(app, page_path, user)).find(op, button)
    values = dict(form["values"])
    for label, value in (changes or {}).items():
        values[form["ids"][form["labels"][label]]] = value
    values.update(extra or {})
    return request(app, "POST", form["action"], values, user=user)


def execsql(app, sql):
    conn = sqlite3.connect(app.db)
    try:
        with conn:
            conn.execute(sql)
    finally:
        conn.close()


def audit_count(app):
    return app.rows("SELECT COUNT(*) FROM audit_log")[0][0]


SAMPLE = {"customer_id": 1, "policy_id": 1, "quote_id": 1, "claim_id": 3, "payment_id": 1, "note_id": 1,
          "task_id": 1, "staff_id": 2}


# --------------------------------------------------------------------------- the form table and the pages

def test_every_write_operation_has_its_form_on_its_page_with_every_label(app):
    assert set(UI_FORMS) == set(WRITE_OPS)
    for op, spec in UI_FORMS.items():
        r = WRITE_OPS[op]
        assert set(spec["fields"].values()) <= set(r.body or {}), op
        path = MOD.fill(spec["page"], SAMPLE)
        text = get(app, path)
        forms = Forms(text)
        form = forms.find(op, MOD.fill(spec["button"], SAMPLE))
        assert form["method"] == "post" and form["action"] == f"/ui/op/{op}"
        assert "_next" in form["values"]
        for name in r.path_params:
            if op != "deleteNote":
                assert form["values"][name] == str(SAMPLE[name]), (op, name)
        for label, field_name in spec["fields"].items():
            assert form["ids"][form["labels"][label]] == field_name, (op, label)
            if r.method == "PATCH":
                assert "_was_" + field_name in form["values"], (op, field_name)
        labels = [lab for f in forms.forms for lab in f["labels"]]
        assert len(labels) == len(set(labels)), (path, labels)  # unique within the page


def test_every_page_has_the_layout(app):
    paths = ["/", "/customers", "/customers?q=GONZ", "/customers/new", "/customers/2", "/policies/3",
             "/quotes/new?customer_id=2", "/quotes/1", "/claims", "/claims?status=approved&assigned_to=priya",
             "/claims/3", "/payments", "/payments?kind=premium&customer_id=1", "/payments/1", "/approvals",
             "/documents/3", "/tasks", "/tasks?assigned_to=jordan&status=open", "/tasks/new",
             "/tasks/new?customer_id=3", "/tasks/1", "/staff", "/staff/4"]
    nav = ('<nav><a href="/">Dashboard</a><a href="/customers">Customers</a><a href="/claims">Claims</a>'
           '<a href="/tasks">Tasks</a><a href="/payments">Payments</a><a href="/approvals">Approvals</a>'
           '<a href="/staff">Staff</a>')
    for path in paths:
        text = get(app, path)
        assert nav in text and "Signed in as Jordan Lee (jordan, agent)" in text, path
        main = re.search(r'<main style="display:flex;flex-direction:column">(.*)</main>', text, re.DOTALL).group(1)
        sections = re.findall(r'<section aria-label="([^"]+)"><h2>([^<]+)</h2>', main)
        assert sections and all(a == b for a, b in sections), path
        assert main.count("<section") == len(sections), path
    search = get(app, "/customers?q=GONZ")
    assert "Maria Gonzalez" in search and "Liam" not in search
    assert "CLM-2003" in get(app, "/claims?status=approved") and "CLM-2001" not in get(app, "/claims?status=approved")
    assert 'value="3" selected' in get(app, "/tasks/new?customer_id=3")
    assert "My open tasks" in get(app, "/")


def test_unknown_and_bad_ids_and_signing_in(app):
    assert request(app, "GET", "/customers/999").status == 404
    assert request(app, "GET", "/tasks/abc").status == 400
    assert request(app, "GET", "/nowhere").status == 404
    for user in (None, "nobody"):
        reply = request(app, "GET", "/customers", user=user)
        assert reply.status == 401 and "Not signed in" in reply.text
    execsql(app, "UPDATE staff SET active = 0 WHERE username = 'casey'")
    try:
        assert request(app, "GET", "/", user="casey").status == 401
    finally:
        execsql(app, "UPDATE staff SET active = 1 WHERE username = 'casey'")
    before = audit_count(app)
    reply = request(app, "POST", "/ui/op/sendMessage", {"customer_id": "2", "subject": "x", "body": "y",
                                                       "_next": "/"}, user=None)
    assert reply.status == 401 and "Not signed in" in reply.text and audit_count(app) == before
    # the JSON API does not take the cookie
    assert request(app, "GET", "/api/me", user="jordan").status == 401


# --------------------------------------------------------------------------- posting

def test_update_customer_sends_only_what_changed(app):
    before = app.rows("SELECT name, email, phone, address, date_of_birth, smoker, status FROM customers "
                      "WHERE id = 7")[0]
    audits = audit_count(app)
    reply = submit(app, "/customers/7", "updateCustomer", {"Phone": "", "Address": "9 Riverside Walk"})
    assert reply.status == 303 and reply.location == "/customers/7"
    assert reply.flash[0] == "ok" and reply.flash[1].startswith("Done: ")
    after = app.rows("SELECT name, email, phone, address, date_of_birth, smoker, status FROM customers "
                     "WHERE id = 7")[0]
    assert after == (before[0], before[1], None, "9 Riverside Walk", *before[4:])
    assert audit_count(app) == audits + 1
    assert app.rows("SELECT staff, method, path, status FROM audit_log ORDER BY id DESC LIMIT 1")[0] == (
        "jordan", "PATCH", "/api/customers/7", 200)
    # the flash shows once on the next page, which clears it
    page = request(app, "GET", "/customers/7", cookies={"lb_flash": "ok.Done%3A%20it"})
    assert '<p role="status" class="flash ok">Done: it</p>' in page.text
    assert page.headers["Set-Cookie"].startswith("lb_flash=;")
    assert 'role="alert"' in request(app, "GET", "/", cookies={"lb_flash": "err.bad"}).text
    # posting the form again changes nothing
    reply = submit(app, "/customers/7", "updateCustomer")
    assert reply.status == 303 and reply.flash == ("ok", "Nothing changed") and audit_count(app) == audits + 1


def test_created_rows_open_their_page(app):
    reply = submit(app, "/customers/new", "createCustomer", {"Name": "Nina Park", "Email": "nina.park@example.com",
                                                             "Date of birth": "1990-01-02", "Smoker": "no"})
    assert reply.status == 303 and reply.flash[0] == "ok", reply.flash
    cid = int(re.fullmatch(r"/customers/(\d+)", reply.location).group(1))
    assert app.rows("SELECT name, phone, smoker FROM customers WHERE id = ?", cid)[0] == ("Nina Park", None, 0)
    assert app.rows("SELECT path, method FROM audit_log ORDER BY id DESC LIMIT 1")[0] == ("/api/customers", "POST")

    reply = submit(app, f"/quotes/new?customer_id={cid}", "createQuote", {"Product": "life",
                                                                          "Coverage amount": "100000"})
    assert reply.status == 303 and reply.flash[0] == "ok", reply.flash
    qid = int(re.fullmatch(r"/quotes/(\d+)", reply.location).group(1))
    assert app.rows("SELECT customer_id, premium_monthly, inputs FROM quotes WHERE id = ?", qid)[0] == (
        cid, 8.0, '{"age": 36, "coverage_amount": 100000, "smoker": false}')
    reply = submit(app, f"/quotes/{qid}", "acceptQuote")
    assert reply.status == 303 and reply.location == f"/quotes/{qid}" and reply.flash[0] == "ok"
    pid = app.rows("SELECT policy_id FROM quotes WHERE id = ?", qid)[0][0]

    reply = submit(app, f"/policies/{pid}", "createClaim", {"Claim type": "illness", "What happened": "Flu.",
                                                            "Amount claimed": "120.50"})
    assert reply.status == 303 and reply.flash[0] == "ok", reply.flash
    claim_id = int(re.fullmatch(r"/claims/(\d+)", reply.location).group(1))
    assert app.rows("SELECT policy_id, amount_claimed, status FROM claims WHERE id = ?", claim_id)[0] == (
        pid, 120.5, "open")

    reply = submit(app, f"/tasks/new?customer_id={cid}", "createTask", {"Title": "Call Nina",
                                                                         "Due date": "2026-11-30"})
    assert reply.status == 303 and reply.flash[0] == "ok", reply.flash
    tid = int(re.fullmatch(r"/tasks/(\d+)", reply.location).group(1))
    assert app.rows("SELECT customer_id, assigned_to, created_by FROM tasks WHERE id = ?", tid)[0] == (
        cid, "jordan", "jordan")
    reply = submit(app, f"/tasks/{tid}", "updateTask", {"Task status": "done"})
    assert reply.status == 303 and app.rows("SELECT status FROM tasks WHERE id = ?", tid)[0][0] == "done"
    reply = submit(app, f"/tasks/{tid}", "deleteTask")
    assert reply.status == 303 and reply.location == "/tasks" and not app.rows("SELECT 1 FROM tasks WHERE id = ?",
                                                                                 tid)

    # a note about the new claim, from the claim's page, then deleted from the customer's page
    reply = submit(app, f"/claims/{claim_id}", "addNote", {"New note": "Doctor's letter received."})
    assert reply.status == 303 and reply.location == f"/claims/{claim_id}", reply.flash
    nid = app.rows("SELECT id FROM notes WHERE customer_id = ? AND claim_id = ?", cid, claim_id)[0][0]
    reply = submit(app, f"/customers/{cid}", "deleteNote", button=f"Delete note {nid}")
    assert reply.status == 303 and reply.flash[0] == "ok" and not app.rows("SELECT 1 FROM notes WHERE id = ?", nid)
    assert app.rows("SELECT path, method FROM audit_log ORDER BY id DESC LIMIT 1")[0] == (f"/api/notes/{nid}",
                                                                                          "DELETE")


def test_errors_come_back_as_a_flash_and_change_nothing(app):
    audits = audit_count(app)
    reply = submit(app, "/customers/14", "deleteCustomer")
    assert reply.status == 303 and reply.location == "/customers/14"
    assert reply.flash == ("err", ("Could not delete customer: HTTP 403: deleteCustomer requires role manager "
                                   "or above (you are agent)"))
    assert app.rows("SELECT COUNT(*) FROM customers WHERE id = 14")[0][0] == 1

    reply = submit(app, "/claims/1", "payClaim", user="priya")
    assert reply.flash[0] == "err" and reply.flash[1].startswith("Could not pay claim: HTTP 409: claim CLM-2001 "
                                                                 "is open"), reply.flash

    reply = submit(app, "/customers/new", "createCustomer", {"Name": "X", "Email": "not-an-email"})
    assert reply.location == "/customers/new"
    assert reply.flash[0] == "err" and "HTTP 422" in reply.flash[1] and "(email: must be an email" in reply.flash[1]

    reply = submit(app, "/claims/2", "updateClaim", {"Approved amount": "lots"}, user="priya")
    assert reply.flash[0] == "err" and "amount_approved: must be a number" in reply.flash[1]

    reply = submit(app, "/claims/1", "deleteNote", extra={"note_id": "2"}, button="Delete note 2")
    assert reply.flash[0] == "err" and "Could not delete note 2: HTTP 403" in reply.flash[1]
    assert audit_count(app) == audits

    # a manager may, through the same form (the customer has no active policy)
    reply = submit(app, "/customers/14", "deleteCustomer", user="sam")
    assert reply.status == 303 and reply.location == "/customers" and reply.flash[0] == "ok"
    assert app.rows("SELECT COUNT(*) FROM customers WHERE id = 14")[0][0] == 0


def test_only_post_and_only_local_next(app):
    before = audit_count(app)
    for method in ("GET", "PUT"):
        reply = request(app, method, "/ui/op/deleteCustomer?customer_id=13&_next=/")
        assert reply.status == 405 and "POST" in reply.headers["Allow"]
    assert request(app, "POST", "/ui/op/searchCustomers", {"_next": "/"}).status == 404
    assert app.rows("SELECT COUNT(*) FROM customers WHERE id = 13")[0][0] == 1 and audit_count(app) == before
    for bad in ("//evil.example", "https://evil.example/", "/\\evil.example", "evil", ""):
        reply = request(app, "POST", "/ui/op/sendMessage", {"customer_id": "5", "subject": "Hi", "body": "Hello",
                                                           "_next": bad})
        assert reply.status == 303 and reply.location == "/", bad


def test_injected_text_is_escaped(app):
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    reply = submit(app, "/customers/9", "sendMessage", {"Subject": evil, "Message": evil})
    assert reply.status == 303 and reply.flash[0] == "ok"
    text = get(app, "/customers/9")
    assert "<script>" not in text and "<img" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)" in text
    reply = submit(app, "/customers/9", "updateCustomer", {"Address": '"><b>bold</b>'})
    assert reply.status == 303
    text = get(app, "/customers/9")
    assert "<b>" not in text and 'value="&quot;&gt;&lt;b&gt;bold&lt;/b&gt;"' in text
