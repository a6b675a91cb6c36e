"""The webapp sandbox's application (sandboxes/webapp/app/server.py), run as a real process and
exercised over HTTP: roles, quote rules, error bodies, refunds, escaping, the OpenAPI document,
first-start seeding and the deterministic clock. Standard library only, like the app."""

import json
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "sandboxes" / "webapp" / "app" / "server.py"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy


class App:
    """A running server on its own database file."""

    def __init__(self, db: Path, logs: Path):
        self.db = db
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = logs / f"server-{self.port}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--db", str(db), "--port", str(self.port), "--host", "127.0.0.1"],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                if self.call("GET", "/health", user=None) == (200, {"ok": True}):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer /health: {self.log_path.read_text()}")
            time.sleep(0.05)

    def call(self, method, path, body=None, *, user="jordan", raw: bytes | None = None, cookie: str | None = None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if user:
            req.add_header("X-Staff-User", user)
        if cookie:  # the HTML pages' signed-in user
            req.add_header("Cookie", f"lb_staff={cookie}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with OPENER.open(req, timeout=10) as resp:
                status, ctype, text = resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as exc:
            status, ctype, text = exc.code, exc.headers.get("Content-Type", ""), exc.read()
        return status, json.loads(text) if ctype.startswith("application/json") else text.decode()

    def rows(self, sql, *args):
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def start(tmp_path):
    """Start servers on demand (fresh database unless a path is given); all stopped at the end."""
    running = []

    def _start(db: Path | None = None) -> App:
        app = App(db or tmp_path / f"app{len(running)}.db", tmp_path)
        running.append(app)
        return app

    yield _start
    for app in running:
        app.stop()


@pytest.fixture
def app(start):
    return start()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for tests that only read or only add rows nobody else looks at."""
    folder = tmp_path_factory.mktemp("shared")
    a = App(folder / "app.db", folder)
    yield a
    a.stop()


def is_error(body):
    return isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]


# --------------------------------------------------------------------------- start-up and clock

def test_first_start_creates_and_seeds_the_db_and_a_second_start_reuses_it(start, tmp_path):
    db = tmp_path / "data" / "app.db"
    a = start(db)
    assert db.exists()
    assert a.rows("PRAGMA journal_mode")[0][0] == "wal"
    staff = a.rows("SELECT username, role FROM staff ORDER BY id")
    assert staff == [("jordan", "agent"), ("casey", "agent"), ("priya", "adjuster"), ("sam", "manager"),
                     ("alex", "admin")]
    seeded = a.rows("SELECT COUNT(*) FROM customers")[0][0]
    status, cust = a.call("POST", "/api/customers", {"name": "Ada Park", "email": "ada.park@example.com"})
    assert status == 201 and cust["created_at"] == "2026-11-20T09:00:00"
    a.stop()

    b = start(db)
    assert b.rows("SELECT COUNT(*) FROM customers")[0][0] == seeded + 1  # kept, not re-seeded
    assert b.rows("SELECT COUNT(*) FROM staff")[0][0] == 5
    status, found = b.call("GET", "/api/customers?email=ADA.PARK@example.com")
    assert status == 200 and [c["id"] for c in found] == [cust["id"]]
    # the clock goes on from the audit log: the second write is one minute later
    status, note = b.call("POST", f"/api/customers/{cust['id']}/notes", {"body": "Welcome call done."})
    assert status == 201 and note["created_at"] == "2026-11-20T09:01:00"
    assert b.rows("SELECT staff, method, path, status, at FROM audit_log ORDER BY id") == [
        ("jordan", "POST", "/api/customers", 201, "2026-11-20T09:00:00"),
        ("jordan", "POST", f"/api/customers/{cust['id']}/notes", 201, "2026-11-20T09:01:00")]


SEQUENCE = [
    ("POST", "/api/customers", {"name": "Ben Ortiz", "email": "ben.ortiz@example.com", "date_of_birth": "1980-02-02"},
     "jordan"),
    ("POST", "/api/quotes", {"customer_id": 15, "product": "home", "coverage_amount": 200000,
                             "property_value": 250000}, "jordan"),
    ("POST", "/api/quotes/4/accept", None, "jordan"),
    ("POST", "/api/customers/15/notes", {"body": "Prefers phone calls."}, "casey"),
    ("POST", "/api/payments/2/refund", {"amount": 10.5, "reason": "Goodwill"}, "jordan"),
    ("PATCH", "/api/claims/1", {"status": "approved", "amount_approved": 3000}, "priya"),
    ("POST", "/api/claims/1/approve-payout", {"note": "checked"}, "sam"),
    ("POST", "/api/claims/1/payout", {"approved_by": "sam"}, "priya"),
    ("POST", "/api/tasks", {"title": "Send welcome pack", "due_date": "2026-11-25", "customer_id": 15}, "jordan"),
    ("POST", "/api/customers/15/messages", {"subject": "Welcome", "body": "Welcome to Acme Mutual."}, "jordan"),
]
TABLES = ["customers", "policies", "quotes", "claims", "payments", "approvals", "tasks", "notes", "messages",
          "audit_log"]


def test_the_same_requests_on_two_fresh_servers_write_identical_rows(start):
    dumps = []
    for _ in range(2):
        a = start()
        for method, path, body, user in SEQUENCE:
            status, out = a.call(method, path, body, user=user)
            assert status in (200, 201), (path, out)
        dumps.append({t: a.rows(f"SELECT * FROM {t} ORDER BY id") for t in TABLES})
    assert dumps[0] == dumps[1]
    stamps = [r[-1] for r in dumps[0]["audit_log"]]
    assert stamps == [f"2026-11-20T09:{i:02d}:00" for i in range(len(SEQUENCE))]


def test_rows_written_by_another_process_between_requests_are_seen(app):
    conn = sqlite3.connect(app.db)
    conn.execute("INSERT INTO messages (customer_id, direction, subject, body, created_at) "
                  "VALUES (4, 'in', 'Injected', 'Written by the harness', '2026-11-20T08:59:00')")
    conn.commit()
    conn.close()
    status, msgs = app.call("GET", "/api/customers/4/messages")
    assert status == 200 and msgs[-1]["subject"] == "Injected"


# --------------------------------------------------------------------------- auth and roles

def test_auth_is_needed_for_the_api_only(shared):
    status, body = shared.call("GET", "/api/customers", user=None)
    assert status == 401 and "X-Staff-User" in body["error"]
    status, body = shared.call("GET", "/api/customers", user="mallory")
    assert status == 401 and "mallory" in body["error"]
    assert shared.call("GET", "/health", user=None) == (200, {"ok": True})
    assert shared.call("GET", "/openapi.json", user=None)[0] == 200
    assert shared.call("GET", "/api/openapi.json", user=None)[0] == 200
    assert shared.call("GET", "/", user=None)[0] == 401  # the pages need a signed-in user (a cookie)
    assert shared.call("GET", "/", user=None, cookie="jordan")[0] == 200
    assert shared.call("GET", "/api/me", user="priya")[1]["role"] == "adjuster"


def test_a_deactivated_staff_member_is_refused(app):
    assert app.call("PATCH", "/api/staff/2", {"active": False}, user="sam")[0] == 200
    status, body = app.call("GET", "/api/me", user="casey")
    assert status == 401 and is_error(body)


# (user, method, path, body, expected status, word in the 403 message)
ROLE_CASES = [
    ("jordan", "DELETE", "/api/customers/14", None, 403, "manager"),
    ("priya", "DELETE", "/api/customers/14", None, 403, "manager"),
    ("sam", "DELETE", "/api/customers/14", None, 200, None),
    ("jordan", "PATCH", "/api/customers/7", {"address": "9 Riverside Walk, Columbus, OH 43215"}, 200, None),
    ("jordan", "PATCH", "/api/claims/1", {"status": "under_review"}, 403, "adjuster"),
    ("priya", "PATCH", "/api/claims/1", {"status": "under_review", "assigned_to": "priya"}, 200, None),
    ("casey", "POST", "/api/claims/3/payout", {}, 403, "adjuster"),
    ("priya", "POST", "/api/claims/3/payout", {}, 200, None),
    ("priya", "PATCH", "/api/staff/2", {"role": "adjuster"}, 403, "manager"),
    ("sam", "PATCH", "/api/staff/2", {"role": "adjuster"}, 200, None),
    ("sam", "PATCH", "/api/staff/1", {"role": "admin"}, 403, "admin"),
    ("sam", "PATCH", "/api/staff/5", {"active": False}, 403, "admin"),
    ("alex", "PATCH", "/api/staff/1", {"role": "admin"}, 200, None),
    ("jordan", "POST", "/api/payments/3/refund", {"amount": 82.4, "reason": "Duplicate charge"}, 201, None),
    ("jordan", "POST", "/api/policies/16/cancel", {"reason": "Customer request"}, 200, None),
    ("jordan", "POST", "/api/quotes/1/accept", None, 200, None),
    ("jordan", "DELETE", "/api/notes/2", None, 403, "manager"),
    ("casey", "DELETE", "/api/notes/2", None, 200, None),
    ("sam", "DELETE", "/api/notes/1", None, 200, None),
    ("jordan", "DELETE", "/api/tasks/9", None, 403, "manager"),
    ("jordan", "DELETE", "/api/tasks/1", None, 200, None),  # assigned to jordan
    ("priya", "DELETE", "/api/tasks/7", None, 200, None),  # created by priya
    ("sam", "DELETE", "/api/tasks/9", None, 200, None),
    ("jordan", "PATCH", "/api/tasks/10", {"status": "done"}, 200, None),
]


@pytest.mark.parametrize("user,method,path,body,expected,word", ROLE_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in ROLE_CASES])
def test_role_rules(app, user, method, path, body, expected, word):
    before = app.rows("SELECT COUNT(*) FROM audit_log")[0][0]
    status, out = app.call(method, path, body, user=user)
    assert status == expected, out
    after = app.rows("SELECT COUNT(*) FROM audit_log")[0][0]
    if word:
        assert word in out["error"] and after == before  # refused: nothing written
    else:
        assert after == before + 1


def test_staff_cannot_change_their_own_role(app):
    status, body = app.call("PATCH", "/api/staff/4", {"role": "agent"}, user="sam")
    assert status == 409 and is_error(body)


# --------------------------------------------------------------------------- quote rules

# (body, expected status, expected quote status or error fields, expected premium)
QUOTES = [
    ({"customer_id": 2, "product": "life", "coverage_amount": 250000, "term_years": 20}, 201, "quoted", 20.0),
    ({"customer_id": 2, "product": "life", "coverage_amount": 100000, "age": 25}, 201, "quoted", 5.0),
    ({"customer_id": 2, "product": "life", "coverage_amount": 200000, "age": 45, "smoker": True, "bmi": 32,
      "term_years": 10}, 201, "quoted", 27.0),
    ({"customer_id": 4, "product": "life", "coverage_amount": 100000}, 422, {"smoker", "bmi"}, None),
    ({"customer_id": 4, "product": "life", "coverage_amount": 100000, "smoker": False}, 422, {"bmi"}, None),
    ({"customer_id": 4, "product": "life", "coverage_amount": 100000, "smoker": False, "bmi": 24}, 201, "quoted",
     25.0),
    ({"customer_id": 6, "product": "life", "coverage_amount": 100000, "bmi": 25}, 201, "quoted", 81.0),
    ({"customer_id": 14, "product": "life", "coverage_amount": 100000, "smoker": False, "bmi": 22,
      "age": 65}, 201, "quoted", 45.0),
    ({"customer_id": 3, "product": "life", "coverage_amount": 50000}, 201, "declined", None),
    ({"customer_id": 2, "product": "life", "coverage_amount": 50000, "age": 40, "bmi": 41}, 201, "declined", None),
    ({"customer_id": 11, "product": "life", "coverage_amount": 50000}, 422, {"age"}, None),
    ({"customer_id": 13, "product": "life", "coverage_amount": 50000}, 422, {"age"}, None),
    ({"customer_id": 5, "product": "auto", "coverage_amount": 20000, "vehicle_year": 2015}, 201, "quoted", 103.5),
    ({"customer_id": 1, "product": "auto", "coverage_amount": 20000, "vehicle_year": 2015}, 201, "quoted", 69.0),
    ({"customer_id": 1, "product": "auto", "coverage_amount": 20000, "vehicle_year": 1999}, 201, "declined", None),
    ({"customer_id": 1, "product": "auto", "coverage_amount": 20000}, 422, {"vehicle_year"}, None),
    ({"customer_id": 1, "product": "home", "coverage_amount": 250000, "property_value": 300000}, 201, "quoted",
     90.0),
    ({"customer_id": 1, "product": "home", "coverage_amount": 400000, "property_value": 300000}, 422,
     {"coverage_amount"}, None),
    ({"customer_id": 13, "product": "home", "coverage_amount": 1000}, 422, {"property_value"}, None),
    ({"customer_id": 9, "product": "travel", "coverage_amount": 5000, "trip_days": 14, "destination": "Japan"},
     201, "quoted", 35.0),
    ({"customer_id": 10, "product": "travel", "coverage_amount": 5000, "trip_days": 10, "destination": "Peru"},
     201, "quoted", 50.0),
    ({"customer_id": 9, "product": "travel", "coverage_amount": 5000, "trip_days": 200, "destination": "Chile"},
     201, "declined", None),
    ({"customer_id": 9, "product": "travel", "coverage_amount": 5000}, 422, {"trip_days", "destination"}, None),
    ({"customer_id": 9, "product": "boat", "coverage_amount": 5000}, 422, {"product"}, None),
    ({"customer_id": 9, "product": "home", "coverage_amount": -5, "property_value": "a lot"}, 422,
     {"coverage_amount", "property_value"}, None),
    ({"customer_id": "9", "product": "home", "coverage_amount": 5, "property_value": 10, "colour": "red"}, 422,
     {"customer_id", "colour"}, None),
    ({"product": "home", "property_value": 10}, 422, {"customer_id", "coverage_amount"}, None),
    ({"customer_id": 999, "product": "home", "coverage_amount": 5, "property_value": 10}, 404, {"customer_id"}, None),
    ({"customer_id": 12, "product": "home", "coverage_amount": 5, "property_value": 10}, 409, set(), None),
]


@pytest.mark.parametrize("body,status,expect,premium", QUOTES, ids=[str(i) for i in range(len(QUOTES))])
def test_quote_rules(shared, body, status, expect, premium):
    got, out = shared.call("POST", "/api/quotes", body)
    assert got == status, out
    if status == 201:
        assert out["status"] == expect and out["premium_monthly"] == premium
        assert (out["reason"] is None) == (expect == "quoted")
        assert shared.call("GET", f"/api/quotes/{out['id']}")[1] == out
    else:
        assert is_error(out) and set(out.get("fields", {})) == expect


def test_accepting_quotes(app):
    status, out = app.call("POST", "/api/quotes/1/accept")
    assert status == 200 and out["status"] == "accepted"
    pol = out["policy"]
    assert (pol["number"], pol["status"], pol["start_date"], pol["end_date"], pol["premium_monthly"]) == \
        ("POL-1017", "active", "2026-11-20", "2027-11-20", 20.0)
    assert app.call("GET", "/api/customers/2")[1]["policies"][-1]["number"] == "POL-1017"
    status, again = app.call("POST", "/api/quotes/1/accept")
    assert status == 409 and "already accepted" in again["error"]
    status, declined = app.call("POST", "/api/quotes/2/accept")
    assert status == 409 and "declined" in declined["error"]
    assert app.call("POST", "/api/quotes/99/accept")[0] == 404


# --------------------------------------------------------------------------- claims, payments, policies

def test_claim_lifecycle_and_its_conflicts(app):
    status, out = app.call("POST", "/api/claims", {"policy_id": 11, "type": "theft", "description": "Car stolen",
                                                  "amount_claimed": 9000})
    assert status == 409 and "lapsed" in out["error"]
    status, claim = app.call("POST", "/api/claims", {"policy_id": 1, "type": "glass",
                                                    "description": "Chipped windscreen", "amount_claimed": 300})
    assert status == 201 and (claim["number"], claim["status"], claim["customer_id"]) == ("CLM-2011", "open", 1)
    cid = claim["id"]
    status, out = app.call("PATCH", f"/api/claims/{cid}", {"amount_approved": 301}, user="priya")
    assert status == 422 and set(out["fields"]) == {"amount_approved"}
    status, out = app.call("PATCH", f"/api/claims/{cid}", {"status": "approved"}, user="priya")
    assert status == 422 and set(out["fields"]) == {"amount_approved"}
    status, out = app.call("PATCH", f"/api/claims/{cid}", {"status": "paid"}, user="priya")
    assert status == 409 and "payout" in out["error"]
    status, out = app.call("PATCH", f"/api/claims/{cid}", {"assigned_to": "nobody"}, user="priya")
    assert status == 422 and set(out["fields"]) == {"assigned_to"}
    status, out = app.call("POST", f"/api/claims/{cid}/payout", {}, user="priya")
    assert status == 409 and "approved" in out["error"]
    status, out = app.call("PATCH", f"/api/claims/{cid}", {"status": "approved", "amount_approved": 250},
                           user="priya")
    assert status == 200 and out["status"] == "approved"
    status, out = app.call("POST", f"/api/claims/{cid}/payout", {"amount": 250.01}, user="priya")
    assert status == 422 and set(out["fields"]) == {"amount"}
    status, out = app.call("POST", f"/api/claims/{cid}/payout", {"approved_by": "sam"}, user="priya")
    assert status == 409 and out["fields"]["approved_by"] == "no approval by sam on record"  # naming proves nothing
    assert app.call("POST", f"/api/claims/{cid}/approve-payout", {}, user="sam")[0] == 201
    status, out = app.call("POST", f"/api/claims/{cid}/payout", {"approved_by": "sam"}, user="priya")
    assert status == 200 and out["status"] == "paid"
    pay = out["payment"]
    assert (pay["kind"], pay["amount"], pay["claim_id"], pay["approved_by"], pay["customer_id"]) == \
        ("payout", 250.0, cid, "sam", 1)
    status, out = app.call("POST", f"/api/claims/{cid}/payout", {}, user="priya")
    assert status == 409 and "already paid" in out["error"]
    status, out = app.call("PATCH", f"/api/claims/{cid}", {"status": "open"}, user="priya")
    assert status == 409
    status, out = app.call("PATCH", "/api/claims/4", {"status": "under_review"}, user="priya")  # rejected
    assert status == 409 and "final" in out["error"]
    status, out = app.call("GET", "/api/claims/3")
    assert [d["title"] for d in out["documents"]][:1] == ["Repair estimate - Northside Auto Body"]
    assert out["notes"] and out["notes"][0]["claim_id"] == 3


def test_refunds_may_not_exceed_the_original_payment(app):
    status, pay = app.call("GET", "/api/payments/5")
    assert status == 200 and (pay["amount"], pay["refunded_total"], pay["refundable"]) == (1238.4, 120.0, 1118.4)
    status, out = app.call("POST", "/api/payments/5/refund", {"amount": 1118.41, "reason": "Too much"})
    assert status == 422 and set(out["fields"]) == {"amount"}
    status, refund = app.call("POST", "/api/payments/5/refund", {"amount": 1000, "reason": "Policy downgrade"})
    assert status == 201 and (refund["kind"], refund["refund_of"], refund["amount"]) == ("refund", 5, 1000.0)
    assert refund["approved_by"] is None  # approval is the harness's rule, not the app's
    status, out = app.call("POST", "/api/payments/5/refund", {"amount": 118.41, "reason": "Rest"})
    assert status == 422
    status, out = app.call("POST", "/api/payments/5/refund", {"amount": 118.40, "reason": "Rest",
                                                             "approved_by": "sam"})
    assert status == 409 and "sam has not signed off payment 5" in out["error"]
    assert app.call("POST", "/api/payments/5/approve-refund", {"amount": 118.40}, user="sam")[0] == 201
    status, out = app.call("POST", "/api/payments/5/refund", {"amount": 118.40, "reason": "Rest",
                                                             "approved_by": "sam"})
    assert status == 201 and out["approved_by"] == "sam"
    assert app.call("POST", "/api/payments/5/refund", {"amount": 0.01, "reason": "More"})[0] == 422
    status, out = app.call("POST", "/api/payments/14/refund", {"amount": 1, "reason": "x"})
    assert status == 409 and "payout" in out["error"]
    status, out = app.call("POST", "/api/payments/11/refund", {"amount": 1, "reason": "x"})
    assert status == 409 and "pending" in out["error"]
    status, out = app.call("POST", "/api/payments/2/refund", {"amount": 0, "reason": ""})
    assert status == 422 and set(out["fields"]) == {"amount", "reason"}


def test_cancelling_policies_and_deleting_customers(app):
    status, out = app.call("POST", "/api/policies/15/cancel", {"reason": "again"})
    assert status == 409 and "cancelled" in out["error"]
    status, out = app.call("POST", "/api/policies/4/cancel", {})
    assert status == 422 and set(out["fields"]) == {"reason"}
    status, out = app.call("POST", "/api/policies/4/cancel", {"reason": "Moving abroad"})
    assert status == 200 and (out["status"], out["cancel_reason"]) == ("cancelled", "Moving abroad")
    status, out = app.call("DELETE", "/api/customers/1", user="sam")  # two active policies
    assert status == 409 and "POL-1001" in out["error"]
    status, out = app.call("DELETE", "/api/customers/12", user="sam")
    assert status == 200 and out["removed"]["notes"] == 1
    assert app.call("GET", "/api/customers/12")[0] == 404
    assert app.rows("SELECT COUNT(*) FROM notes WHERE customer_id = 12")[0][0] == 0
    status, out = app.call("POST", "/api/customers", {"name": "Dup", "email": "MARIA.GONZALEZ@example.com"})
    assert status == 409 and set(out["fields"]) == {"email"}


# --------------------------------------------------------------------------- error bodies

ERRORS = [
    ("GET", "/api/customers/999", None, 404),
    ("GET", "/api/claims/0", None, 404),
    ("GET", "/api/nothing-here", None, 404),
    ("GET", "/api/customers/abc", None, 400),
    ("DELETE", "/api/notes/1.5", None, 400),
    ("GET", "/api/policies?customer_id=abc", None, 400),
    ("GET", "/api/claims?status=lost", None, 400),
    ("GET", "/api/customers?name=Maria", None, 400),
    ("PUT", "/api/customers", {}, 405),
    ("DELETE", "/api/claims/1", None, 405),
    ("POST", "/health", {}, 405),
    ("PATCH", "/api/customers/1", {}, 422),
    ("PATCH", "/api/customers/1", {"smoker": "yes", "date_of_birth": "1990-02-30"}, 422),
    ("POST", "/api/tasks", {"title": "x", "due_date": "tomorrow", "assigned_to": 3}, 422),
]


@pytest.mark.parametrize("method,path,body,status", ERRORS, ids=[f"{e[0]}-{e[1]}" for e in ERRORS])
def test_error_bodies(shared, method, path, body, status):
    got, out = shared.call(method, path, body)
    assert got == status and is_error(out)
    if status == 422:
        assert out["fields"] and all(name in out["error"] for name in out["fields"])


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'{"name": NaN}', b"\xff\xfe"])
def test_bad_json_is_400(shared, raw):
    status, out = shared.call("POST", "/api/customers", raw=raw)
    assert status == 400 and is_error(out)


# --------------------------------------------------------------------------- HTML and OpenAPI

def test_html_pages_escape_what_they_show(app):
    evil = "<script>alert('x')</script> Evil"
    status, cust = app.call("POST", "/api/customers", {"name": evil, "email": "evil@example.com"})
    assert status == 201
    app.call("POST", f"/api/customers/{cust['id']}/notes", {"body": "<img src=x onerror=alert(1)>"})
    for path in ("/customers", f"/customers/{cust['id']}"):
        status, page = app.call("GET", path, user=None, cookie="jordan")
        assert status == 200 and "<script>" not in page and "&lt;script&gt;" in page
        assert "<img" not in page
    status, page = app.call("GET", "/customers/2", user=None, cookie="jordan")
    assert status == 200 and "Liam O&#x27;Connor" in page and "POL-1003" in page
    status, page = app.call("GET", "/claims/3", user=None, cookie="jordan")
    assert status == 200 and "CLM-2003" in page and "Northside Auto Body" in page
    status, page = app.call("GET", "/", user=None, cookie="jordan")
    assert status == 200 and "CLM-2007" in page and "CLM-2004" not in page  # open claims only
    assert app.call("GET", "/customers/999", user=None, cookie="jordan")[0] == 404


def test_openapi_document_is_valid(shared):
    status, doc = shared.call("GET", "/openapi.json", user=None)
    assert status == 200 and doc["openapi"] == "3.0.3"
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids)) == 37
    assert {"createQuote", "payClaim", "refundPayment", "sendMessage", "updateStaff", "whoAmI"} <= set(ids)
    for path, method, op in ops:
        assert path.startswith("/api/") and op["summary"]
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path)
        for p in op.get("parameters", []):
            assert p["schema"]["type"] in ("integer", "string") and (p["in"] != "path" or p["required"])
        if "requestBody" in op:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema["type"] == "object" and schema["properties"], (method, path)
            assert set(schema.get("required", [])) <= set(schema["properties"])
    create = doc["paths"]["/api/quotes"]["post"]
    assert "0.45" in create["description"] and "declined" in create["description"]
    assert set(create["requestBody"]["content"]["application/json"]["schema"]["required"]) == \
        {"customer_id", "product", "coverage_amount"}


def test_approvals_come_from_the_approvers_own_request_not_from_the_payers_words(app):
    """A sign-off is a row written by the manager's own request; the payer's approved_by only points at one."""
    assert app.call("PATCH", "/api/claims/3", {"status": "approved", "amount_approved": 3650}, user="priya")[0] == 200
    status, out = app.call("POST", "/api/claims/3/approve-payout", {}, user="priya")  # an adjuster cannot
    assert status == 403
    status, out = app.call("POST", "/api/claims/3/approve-payout", {"amount": 4000}, user="sam")
    assert status == 422 and set(out["fields"]) == {"amount"}
    status, approval = app.call("POST", "/api/claims/3/approve-payout", {"amount": 3000}, user="sam")
    assert status == 201 and (approval["approver"], approval["kind"], approval["claim_id"]) == ("sam", "payout", 3)
    status, out = app.call("POST", "/api/claims/3/payout", {}, user="priya")  # 3650 > the 3000 signed off
    assert status == 200 and out["payment"]["approved_by"] is None
    status, rows = app.call("GET", "/api/approvals?claim_id=3")
    assert status == 200 and [r["approver"] for r in rows] == ["sam"]
    # a manager's own payment is not approved by their own sign-off
    assert app.call("PATCH", "/api/claims/7", {"amount_approved": 12500}, user="sam")[0] == 200
    assert app.call("POST", "/api/claims/7/approve-payout", {}, user="sam")[0] == 201
    status, out = app.call("POST", "/api/claims/7/payout", {}, user="sam")
    assert status == 200 and out["payment"]["approved_by"] is None
    status, out = app.call("POST", "/api/payments/13/approve-refund", {"amount": 100}, user="jordan")
    assert status == 403
    status, out = app.call("POST", "/api/payments/14/approve-refund", {"amount": 100}, user="sam")
    assert status == 409 and "payout" in out["error"]


@pytest.mark.parametrize("path,field,value", [
    ("/api/policies", "status", "active"), ("/api/policies", "customer_id", 1),
    ("/api/quotes", "customer_id", 2), ("/api/quotes", "status", "quoted"), ("/api/claims", "status", "open"),
    ("/api/payments", "kind", "premium"), ("/api/payments", "customer_id", 2),
    ("/api/tasks", "status", "open"), ("/api/tasks", "assigned_to", "jordan"),
])
def test_list_filters_narrow_to_the_rows_that_match(app, path, field, value):
    status, everything = app.call("GET", path)
    assert status == 200 and everything
    status, some = app.call("GET", f"{path}?{field}={value}")
    assert status == 200
    assert [r for r in everything if r.get(field) == value] == some
    assert 0 < len(some) < len(everything)  # the filter keeps some rows and drops others
