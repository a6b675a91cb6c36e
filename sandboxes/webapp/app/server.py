"""Acme Mutual back office: a small insurance web application (standard library only).

Customers (a CRM), policies, quotes priced by branching rules, claims, payments, tasks, notes,
documents, customer messages and staff accounts with roles, behind a JSON API (`/api/...`,
described by `/openapi.json`) and a few plain HTML pages. It runs inside the webapp sandbox
container with Debian's python3 and nothing else:

    python3 server.py --db /data/app.db --port 8080 [--host 0.0.0.0]

The database is created from schema.sql and seed.sql when the file does not exist yet. Every
request opens its own sqlite connection, so another process may read and write the file between
requests. The clock is deterministic: "now" is 2026-11-20T09:00:00 plus one minute per row in
audit_log (one row per request that changed something), so the same request sequence always
writes the same rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import math
import os
import re
import signal
import sqlite3
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
TODAY = dt.date(2026, 11, 20)
CLOCK_START = dt.datetime(2026, 11, 20, 9, 0, 0)
ROLES = ("agent", "adjuster", "manager", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
PRODUCTS = ("auto", "home", "life", "travel")
MAX_BODY = 1_000_000
DB_PATH = ""  # set by main()
WRITE_LOCK = threading.Lock()  # one writer at a time inside this process; sqlite locks across processes


class ApiError(Exception):
    """An error answered as `{"error": message, "fields": {...}}` with an HTTP status."""

    def __init__(self, status: int, message: str, fields: dict | None = None, *, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}
        self.headers = headers or {}

    def body(self) -> dict:
        out = {"error": self.message}
        if self.fields:
            out["fields"] = self.fields
        return out


def invalid(fields: dict, message: str | None = None) -> ApiError:
    return ApiError(422, message or "invalid fields: " + ", ".join(sorted(fields)), fields)


def filtered(ctx: Ctx, select: str, columns) -> tuple[str, list]:
    """``select`` narrowed by the query parameters named in ``columns`` (a key, or (key, column) pairs)."""
    sql, args = select + " WHERE 1 = 1", []
    for item in columns:
        key, col = item if isinstance(item, tuple) else (item, item)
        if key in ctx.query:
            sql += f" AND {col} = ?"
            args.append(ctx.query[key])
    return sql, args


# --------------------------------------------------------------------------- field validation

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Field:
    """One body or query field: its JSON type and constraints (also rendered into OpenAPI)."""

    type: str  # string | integer | number | boolean
    description: str = ""
    required: bool = False
    enum: tuple = ()
    format: str = ""  # date | email
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False  # number > 0
    nullable: bool = False
    max_length: int = 2000

    def schema(self) -> dict:
        s: dict = {"type": self.type}
        if self.description:
            s["description"] = self.description
        if self.enum:
            s["enum"] = list(self.enum)
        if self.format:
            s["format"] = self.format
        if self.minimum is not None:
            s["minimum"] = self.minimum
        if self.maximum is not None:
            s["maximum"] = self.maximum
        if self.positive:
            s["minimum"], s["exclusiveMinimum"] = 0, True
        if self.type == "string" and not self.enum and not self.format:
            s["minLength"], s["maxLength"] = 1, self.max_length
        if self.nullable:
            s["nullable"] = True
        return s

    def check(self, value):
        """Return the cleaned value or raise ValueError with a message for the caller."""
        if value is None:
            if self.nullable:
                return None
            raise ValueError("must not be null")
        if self.type == "string":
            if not isinstance(value, str):
                raise ValueError("must be a string")
            value = value.strip()
            if not value:
                raise ValueError("must not be empty")
            if len(value) > self.max_length:
                raise ValueError(f"must be at most {self.max_length} characters")
            if self.enum and value not in self.enum:
                raise ValueError("must be one of " + ", ".join(self.enum))
            if self.format == "date":
                if not DATE_RE.match(value):
                    raise ValueError("must be a date YYYY-MM-DD")
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise ValueError("must be a real calendar date YYYY-MM-DD") from None
            if self.format == "email" and not EMAIL_RE.match(value):
                raise ValueError("must be an email address like name@example.com")
            return value
        if self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("must be an integer")
            if abs(value) > 2**53:
                raise ValueError("is out of range")
        elif self.type == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError("must be a number")
            if abs(value) > 1e12:
                raise ValueError("is out of range")
            if self.positive and value <= 0:
                raise ValueError("must be greater than 0")
        elif self.type == "boolean":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {self.maximum:g}")
        return value


def validate_body(body: dict, spec: dict[str, Field]) -> dict:
    """Check a JSON object against a body spec; 422 naming every bad, missing or unknown field."""
    errors, clean = {}, {}
    for key in body:
        if key not in spec:
            allowed = ", ".join(spec) or "none"
            errors[key] = f"unknown field; allowed fields: {allowed}"
    for name, f in spec.items():
        if name not in body:
            if f.required:
                errors[name] = "required"
            continue
        try:
            clean[name] = f.check(body[name])
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise invalid(errors)
    return clean


def parse_query(raw: dict[str, list[str]], spec: dict[str, Field]) -> dict:
    """Query parameters: unknown names and wrong types are 400 (a bad request line, not bad data)."""
    out = {}
    for name, values in raw.items():
        if name not in spec:
            allowed = ", ".join(spec) or "none"
            raise ApiError(400, f"unknown query parameter '{name}'; allowed: {allowed}")
        value, f = values[-1].strip(), spec[name]
        if value == "":
            continue
        if f.type == "integer":
            if not re.fullmatch(r"-?\d{1,15}", value):
                raise ApiError(400, f"query parameter '{name}' must be an integer, got {value!r}")
            out[name] = int(value)
        elif f.enum and value not in f.enum:
            raise ApiError(400, f"query parameter '{name}' must be one of {', '.join(f.enum)}, got {value!r}")
        else:
            out[name] = value
    return out


# --------------------------------------------------------------------------- database

def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(DB_PATH, timeout=15, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 15000")
    return conn


def init_db(path: str) -> bool:
    """Create the database from schema.sql + seed.sql if the file is missing; True if created."""
    created = False
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        tmp = path + ".init"
        if os.path.exists(tmp):
            os.remove(tmp)
        conn = sqlite3.connect(tmp)
        try:
            for name in ("schema.sql", "seed.sql"):
                with open(os.path.join(HERE, name), encoding="utf-8") as fh:
                    conn.executescript(fh.read())
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, path)
        created = True
    conn = sqlite3.connect(path, timeout=15)
    try:
        conn.execute("PRAGMA busy_timeout = 15000")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    return created


def now_of(conn: sqlite3.Connection) -> str:
    n = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    return (CLOCK_START + dt.timedelta(minutes=n)).isoformat(timespec="seconds")


def one(conn, sql: str, *args) -> dict | None:
    row = conn.execute(sql, args).fetchone()
    return dict(row) if row is not None else None


def many(conn, sql: str, *args) -> list[dict]:
    return [dict(r) for r in conn.execute(sql, args).fetchall()]


def insert(conn, table: str, values: dict) -> int:
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    return conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values())).lastrowid


def update(conn, table: str, row_id: int, values: dict) -> None:
    if values:
        sets = ", ".join(f"{k} = ?" for k in values)
        conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*values.values(), row_id))


def money(x: float) -> float:
    return round(float(x), 2)


def age_on(dob: str, on: dt.date = TODAY) -> int:
    born = dt.date.fromisoformat(dob)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def add_year(d: dt.date) -> dt.date:
    try:
        return d.replace(year=d.year + 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year + 1, day=28)


def next_number(conn, table: str, prefix: str, first: int) -> str:
    best = first - 1
    for (num,) in conn.execute(f"SELECT number FROM {table}"):
        m = re.fullmatch(re.escape(prefix) + r"(\d+)", num or "")
        if m:
            best = max(best, int(m.group(1)))
    return f"{prefix}{best + 1}"


# --------------------------------------------------------------------------- row shapes

def customer_out(row: dict) -> dict:
    row = dict(row)
    row["smoker"] = None if row.get("smoker") is None else bool(row["smoker"])
    if row.get("date_of_birth"):
        try:
            row["age"] = age_on(row["date_of_birth"])
        except ValueError:
            row["age"] = None
    else:
        row["age"] = None
    return row


def staff_out(row: dict) -> dict:
    row = dict(row)
    row["active"] = bool(row["active"])
    return row


def quote_out(row: dict) -> dict:
    row = dict(row)
    try:
        row["inputs"] = json.loads(row["inputs"])
    except (TypeError, ValueError):
        pass
    return row


CLAIM_SELECT = ("SELECT c.*, p.number AS policy_number, p.customer_id AS customer_id, "
                "p.product AS product FROM claims c JOIN policies p ON p.id = c.policy_id")


# --------------------------------------------------------------------------- request context

@dataclass
class Ctx:
    conn: sqlite3.Connection
    staff: dict
    params: dict
    query: dict
    body: dict
    now: str

    @property
    def me(self) -> str:
        return self.staff["username"]

    def role_at_least(self, role: str) -> bool:
        return RANK[self.staff["role"]] >= RANK[role]


def must_get(ctx: Ctx, table: str, row_id: int, what: str, *, field_name: str | None = None) -> dict:
    row = one(ctx.conn, f"SELECT * FROM {table} WHERE id = ?", row_id)
    if row is None:
        fields = {field_name: f"no {what} with id {row_id}"} if field_name else None
        raise ApiError(404, f"{what} {row_id} not found", fields)
    return row


def must_staff(ctx: Ctx, username: str, field_name: str) -> dict:
    row = one(ctx.conn, "SELECT * FROM staff WHERE username = ?", username)
    if row is None or not row["active"]:
        names = [r["username"] for r in many(ctx.conn, "SELECT username FROM staff WHERE active = 1 ORDER BY id")]
        raise invalid({field_name: f"'{username}' is not an active staff username; known: {', '.join(names)}"})
    return row


# --------------------------------------------------------------------------- handlers: staff

def who_am_i(ctx: Ctx):
    return 200, staff_out(ctx.staff)


def list_staff(ctx: Ctx):
    return 200, [staff_out(r) for r in many(ctx.conn, "SELECT * FROM staff ORDER BY id")]


def update_staff(ctx: Ctx):
    target = must_get(ctx, "staff", ctx.params["staff_id"], "staff member")
    b = ctx.body
    if not b:
        raise invalid({"body": "give role and/or active"}, "nothing to update: the body has no fields")
    touches_admin = target["role"] == "admin" or b.get("role") == "admin"
    if touches_admin and not ctx.role_at_least("admin"):
        raise ApiError(403, f"granting the admin role or changing an admin account requires role admin "
                            f"(you are {ctx.staff['role']})")
    if target["id"] == ctx.staff["id"] and (b.get("active") is False or
                                           ("role" in b and b["role"] != target["role"])):
        raise ApiError(409, "you cannot deactivate yourself or change your own role")
    changes = {}
    if "role" in b:
        changes["role"] = b["role"]
    if "active" in b:
        changes["active"] = 1 if b["active"] else 0
    update(ctx.conn, "staff", target["id"], changes)
    return 200, staff_out(one(ctx.conn, "SELECT * FROM staff WHERE id = ?", target["id"]))


# --------------------------------------------------------------------------- handlers: customers

def find_email(ctx: Ctx, email: str, exclude: int | None = None) -> dict | None:
    return one(ctx.conn, "SELECT id, name FROM customers WHERE lower(email) = lower(?) AND id IS NOT ?",
               email, exclude)


def search_customers(ctx: Ctx):
    sql, args = "SELECT * FROM customers WHERE 1 = 1", []
    q = ctx.query
    if "q" in q:
        sql += " AND (instr(lower(name), lower(?)) > 0 OR instr(lower(email), lower(?)) > 0)"
        args += [q["q"], q["q"]]
    if "email" in q:
        sql += " AND lower(email) = lower(?)"
        args.append(q["email"])
    if "status" in q:
        sql += " AND status = ?"
        args.append(q["status"])
    return 200, [customer_out(r) for r in many(ctx.conn, sql + " ORDER BY id", *args)]


def create_customer(ctx: Ctx):
    b = ctx.body
    dup = find_email(ctx, b["email"])
    if dup:
        raise ApiError(409, f"customer {dup['id']} ({dup['name']}) already has the email {b['email']}",
                       {"email": "already in use"})
    check_dob(b)
    row = {"name": b["name"], "email": b["email"], "phone": b.get("phone"), "address": b.get("address"),
           "date_of_birth": b.get("date_of_birth"),
           "smoker": None if b.get("smoker") is None else int(b["smoker"]),
           "status": "active", "created_at": ctx.now}
    cid = insert(ctx.conn, "customers", row)
    return 201, customer_out(must_get(ctx, "customers", cid, "customer"))


def check_dob(b: dict) -> None:
    if b.get("date_of_birth") and dt.date.fromisoformat(b["date_of_birth"]) > TODAY:
        raise invalid({"date_of_birth": "must not be in the future"})


def get_customer(ctx: Ctx):
    cust = must_get(ctx, "customers", ctx.params["customer_id"], "customer")
    out = customer_out(cust)
    out["policies"] = many(ctx.conn, "SELECT id, number, product, status, premium_monthly, start_date, end_date "
                                     "FROM policies WHERE customer_id = ? ORDER BY id", cust["id"])
    return 200, out


def update_customer(ctx: Ctx):
    cust = must_get(ctx, "customers", ctx.params["customer_id"], "customer")
    b = ctx.body
    if not b:
        raise invalid({"body": "give at least one field to change"}, "nothing to update: the body has no fields")
    if "email" in b:
        dup = find_email(ctx, b["email"], cust["id"])
        if dup:
            raise ApiError(409, f"customer {dup['id']} ({dup['name']}) already has the email {b['email']}",
                           {"email": "already in use"})
    check_dob(b)
    if b.get("status") == "closed" and cust["status"] != "closed":
        active = active_policies(ctx, cust["id"])
        if active:
            raise ApiError(409, f"customer {cust['id']} still has active policies ({', '.join(active)}); "
                                "cancel them before closing the account")
    changes = dict(b)
    if "smoker" in changes:
        changes["smoker"] = None if b["smoker"] is None else int(b["smoker"])
    update(ctx.conn, "customers", cust["id"], changes)
    return 200, customer_out(must_get(ctx, "customers", cust["id"], "customer"))


def active_policies(ctx: Ctx, customer_id: int) -> list[str]:
    return [r["number"] for r in many(ctx.conn, "SELECT number FROM policies WHERE customer_id = ? AND "
                                                "status = 'active' ORDER BY id", customer_id)]


def delete_customer(ctx: Ctx):
    cust = must_get(ctx, "customers", ctx.params["customer_id"], "customer")
    active = active_policies(ctx, cust["id"])
    if active:
        raise ApiError(409, f"customer {cust['id']} has active policies ({', '.join(active)}); "
                            "cancel them before deleting the customer")
    removed = {}
    for table in ("notes", "tasks", "messages", "documents"):
        removed[table] = ctx.conn.execute(f"DELETE FROM {table} WHERE customer_id = ?", (cust["id"],)).rowcount
    ctx.conn.execute("DELETE FROM customers WHERE id = ?", (cust["id"],))
    return 200, {"deleted": True, "id": cust["id"], "name": cust["name"], "removed": removed}


# --------------------------------------------------------------------------- handlers: policies

def list_policies(ctx: Ctx):
    sql, args = filtered(ctx, "SELECT p.*, c.name AS customer_name FROM policies p LEFT JOIN customers c "
                              "ON c.id = p.customer_id", [(k, f"p.{k}") for k in ("customer_id", "status", "product")])
    return 200, many(ctx.conn, sql + " ORDER BY p.id", *args)


def get_policy(ctx: Ctx):
    pol = must_get(ctx, "policies", ctx.params["policy_id"], "policy")
    cust = one(ctx.conn, "SELECT name FROM customers WHERE id = ?", pol["customer_id"])
    pol["customer_name"] = cust["name"] if cust else None
    pol["claims"] = many(ctx.conn, "SELECT id, number, type, status, amount_claimed, amount_approved "
                                   "FROM claims WHERE policy_id = ? ORDER BY id", pol["id"])
    pol["payments"] = many(ctx.conn, "SELECT id, kind, amount, status, reference, created_at FROM payments "
                                     "WHERE policy_id = ? ORDER BY id", pol["id"])
    return 200, pol


def cancel_policy(ctx: Ctx):
    pol = must_get(ctx, "policies", ctx.params["policy_id"], "policy")
    if pol["status"] != "active":
        raise ApiError(409, f"policy {pol['number']} is {pol['status']}; only active policies can be cancelled")
    update(ctx.conn, "policies", pol["id"], {"status": "cancelled", "cancel_reason": ctx.body["reason"],
                                             "cancelled_at": ctx.now})
    return 200, must_get(ctx, "policies", pol["id"], "policy")


# --------------------------------------------------------------------------- handlers: quotes

LIFE_BANDS = ((30, 0.05), (40, 0.08), (50, 0.12), (60, 0.25))
LIFE_RATE_ABOVE = 0.45

QUOTE_RULES = "\n".join([
    "Premium rules (today is 2026-11-20; premiums are rounded to 2 decimals):",
    "- Every product: `age` defaults to the customer's age from date_of_birth (422 naming `age` if neither "
    "is known; home quotes do not use age). The customer must be active (409).",
    "- life: age < 18 -> 422. age > 75 -> quote created with status `declined` and a reason. Otherwise "
    "age >= 50 requires `smoker` and `bmi` (422 naming the missing ones); `smoker` defaults to the "
    "customer's recorded smoker flag. bmi >= 40 -> `declined`. Otherwise premium_monthly = "
    "coverage_amount / 1000 * rate, rate by age: < 30: 0.05, < 40: 0.08, < 50: 0.12, < 60: 0.25, "
    "else 0.45; x1.8 if smoker; x1.25 if bmi >= 30; x term_years / 20 when term_years is given.",
    "- auto: `vehicle_year` required; built before 2001 (older than 25 years) -> `declined`. "
    "premium_monthly = 45 + coverage_amount / 1000 * 1.2, x1.5 if age < 25.",
    "- home: `property_value` required; coverage_amount > property_value -> 422. "
    "premium_monthly = property_value / 1000 * 0.3.",
    "- travel: `trip_days` and `destination` required; trip_days > 180 -> `declined`. "
    "premium (one-off, stored in premium_monthly) = 2.5 * trip_days, x2 if age >= 70.",
    "A declined quote has premium_monthly null and a `reason`; it cannot be accepted.",
])


def create_quote(ctx: Ctx):
    b = ctx.body
    cust = must_get(ctx, "customers", b["customer_id"], "customer", field_name="customer_id")
    if cust["status"] != "active":
        raise ApiError(409, f"customer {cust['id']} is closed; reopen the account before quoting")
    product, cover = b["product"], b["coverage_amount"]
    inputs = {k: v for k, v in b.items() if k not in ("customer_id", "product")}
    errors: dict = {}

    age = b.get("age")
    if age is None and product != "home":
        if cust["date_of_birth"]:
            age = age_on(cust["date_of_birth"])
            inputs["age"] = age
        else:
            errors["age"] = "required: the customer has no date_of_birth on file"

    premium = reason = None
    if product == "life":
        smoker, bmi = b.get("smoker"), b.get("bmi")
        if smoker is None and cust["smoker"] is not None:
            smoker = bool(cust["smoker"])
            inputs["smoker"] = smoker
        if errors:
            raise invalid(errors)
        if age < 18:
            raise invalid({"age": f"life cover needs the insured person to be 18 or older (age {age})"})
        if age > 75:
            reason = f"life cover is not offered above age 75 (applicant is {age})"
        else:
            if age >= 50:
                for name, value in (("smoker", smoker), ("bmi", bmi)):
                    if value is None:
                        errors[name] = f"required for life cover when the applicant is 50 or older (age {age})"
                if errors:
                    raise invalid(errors)
            if bmi is not None and bmi >= 40:
                reason = f"life cover is not offered with a BMI of 40 or above (bmi {bmi:g})"
            else:
                rate = next((r for limit, r in LIFE_BANDS if age < limit), LIFE_RATE_ABOVE)
                premium = cover / 1000 * rate
                if smoker:
                    premium *= 1.8
                if bmi is not None and bmi >= 30:
                    premium *= 1.25
                if b.get("term_years"):
                    premium *= b["term_years"] / 20
    elif product == "auto":
        year = b.get("vehicle_year")
        if year is None:
            errors["vehicle_year"] = "required for auto quotes"
        elif year > TODAY.year + 1:
            errors["vehicle_year"] = f"must not be after {TODAY.year + 1}"
        if errors:
            raise invalid(errors)
        if year < 2001:
            reason = f"vehicles older than 25 years (built before 2001) are not insured (vehicle_year {year})"
        else:
            premium = 45 + cover / 1000 * 1.2
            if age < 25:
                premium *= 1.5
    elif product == "home":
        value = b.get("property_value")
        if value is None:
            errors["property_value"] = "required for home quotes"
        elif cover > value:
            errors["coverage_amount"] = f"must not exceed property_value ({value:g})"
        if errors:
            raise invalid(errors)
        premium = value / 1000 * 0.3
    else:  # travel
        for name in ("trip_days", "destination"):
            if b.get(name) is None:
                errors[name] = "required for travel quotes"
        if errors:
            raise invalid(errors)
        if b["trip_days"] > 180:
            reason = f"trips longer than 180 days are not covered (trip_days {b['trip_days']})"
        else:
            premium = 2.5 * b["trip_days"]
            if age >= 70:
                premium *= 2

    row = {"customer_id": cust["id"], "product": product, "inputs": json.dumps(inputs, sort_keys=True),
           "premium_monthly": None if premium is None else round(premium, 2),
           "status": "declined" if reason else "quoted", "reason": reason,
           "created_by": ctx.me, "created_at": ctx.now}
    qid = insert(ctx.conn, "quotes", row)
    return 201, quote_out(must_get(ctx, "quotes", qid, "quote"))


def list_quotes(ctx: Ctx):
    sql, args = filtered(ctx, "SELECT * FROM quotes", ("customer_id", "status"))
    return 200, [quote_out(r) for r in many(ctx.conn, sql + " ORDER BY id", *args)]


def get_quote(ctx: Ctx):
    return 200, quote_out(must_get(ctx, "quotes", ctx.params["quote_id"], "quote"))


def accept_quote(ctx: Ctx):
    quote = must_get(ctx, "quotes", ctx.params["quote_id"], "quote")
    if quote["status"] == "declined":
        raise ApiError(409, f"quote {quote['id']} was declined ({quote['reason']}); it cannot be accepted")
    if quote["status"] == "accepted":
        raise ApiError(409, f"quote {quote['id']} was already accepted (policy id {quote['policy_id']})")
    cust = one(ctx.conn, "SELECT * FROM customers WHERE id = ?", quote["customer_id"])
    if cust is None or cust["status"] != "active":
        raise ApiError(409, f"customer {quote['customer_id']} is not an active customer")
    number = next_number(ctx.conn, "policies", "POL-", 1001)
    pid = insert(ctx.conn, "policies", {
        "number": number, "customer_id": quote["customer_id"], "product": quote["product"], "status": "active",
        "premium_monthly": quote["premium_monthly"], "start_date": TODAY.isoformat(),
        "end_date": add_year(TODAY).isoformat()})
    update(ctx.conn, "quotes", quote["id"], {"status": "accepted", "policy_id": pid})
    out = quote_out(must_get(ctx, "quotes", quote["id"], "quote"))
    out["policy"] = must_get(ctx, "policies", pid, "policy")
    return 200, out


# --------------------------------------------------------------------------- handlers: claims

def list_claims(ctx: Ctx):
    sql, args = filtered(ctx, CLAIM_SELECT, (("status", "c.status"), ("policy_id", "c.policy_id"),
                                            ("customer_id", "p.customer_id"), ("assigned_to", "c.assigned_to")))
    return 200, many(ctx.conn, sql + " ORDER BY c.id", *args)


def claim_row(ctx: Ctx, claim_id: int) -> dict:
    row = one(ctx.conn, CLAIM_SELECT + " WHERE c.id = ?", claim_id)
    if row is None:
        raise ApiError(404, f"claim {claim_id} not found")
    return row


def get_claim(ctx: Ctx):
    claim = claim_row(ctx, ctx.params["claim_id"])
    claim["notes"] = many(ctx.conn, "SELECT * FROM notes WHERE claim_id = ? ORDER BY id", claim["id"])
    claim["documents"] = many(ctx.conn, "SELECT id, title, kind, created_at FROM documents WHERE claim_id = ? "
                                        "ORDER BY id", claim["id"])
    claim["payments"] = many(ctx.conn, "SELECT * FROM payments WHERE claim_id = ? ORDER BY id", claim["id"])
    return 200, claim


def create_claim(ctx: Ctx):
    b = ctx.body
    pol = must_get(ctx, "policies", b["policy_id"], "policy", field_name="policy_id")
    if pol["status"] != "active":
        raise ApiError(409, f"policy {pol['number']} is {pol['status']}; claims need an active policy")
    number = next_number(ctx.conn, "claims", "CLM-", 2001)
    cid = insert(ctx.conn, "claims", {
        "number": number, "policy_id": pol["id"], "type": b["type"], "description": b["description"],
        "amount_claimed": money(b["amount_claimed"]), "amount_approved": None, "status": "open",
        "assigned_to": None, "created_at": ctx.now})
    return 201, claim_row(ctx, cid)


CLAIM_MOVES = {
    "open": {"under_review", "approved", "rejected"},
    "under_review": {"open", "approved", "rejected"},
    "approved": {"under_review", "rejected"},
    "rejected": set(),
    "paid": set(),
}


def update_claim(ctx: Ctx):
    claim = claim_row(ctx, ctx.params["claim_id"])
    b = ctx.body
    if not b:
        raise invalid({"body": "give status, amount_approved and/or assigned_to"},
                      "nothing to update: the body has no fields")
    changes = {}
    final = claim["status"] in ("rejected", "paid")
    if final and (b.get("status", claim["status"]) != claim["status"] or "amount_approved" in b):
        raise ApiError(409, f"claim {claim['number']} is {claim['status']}, which is final; it cannot be "
                            "reopened or re-priced")
    if "status" in b and b["status"] != claim["status"]:
        new = b["status"]
        if new == "paid":
            raise ApiError(409, "a claim becomes paid only through POST /api/claims/{claim_id}/payout")
        if new not in CLAIM_MOVES[claim["status"]]:
            raise ApiError(409, f"claim {claim['number']} is {claim['status']}; it cannot move to {new}")
        changes["status"] = new
    if "amount_approved" in b:
        amount = money(b["amount_approved"])
        if amount > claim["amount_claimed"]:
            raise invalid({"amount_approved": f"must not exceed amount_claimed ({claim['amount_claimed']:.2f})"})
        changes["amount_approved"] = amount
    if changes.get("status") == "approved" and changes.get("amount_approved", claim["amount_approved"]) is None:
        raise invalid({"amount_approved": "required to approve a claim"})
    if "assigned_to" in b:
        if b["assigned_to"] is not None:
            must_staff(ctx, b["assigned_to"], "assigned_to")
        changes["assigned_to"] = b["assigned_to"]
    update(ctx.conn, "claims", claim["id"], changes)
    return 200, claim_row(ctx, claim["id"])


def pay_claim(ctx: Ctx):
    claim = claim_row(ctx, ctx.params["claim_id"])
    b = ctx.body
    if claim["status"] == "paid":
        raise ApiError(409, f"claim {claim['number']} is already paid")
    if claim["status"] != "approved":
        raise ApiError(409, f"claim {claim['number']} is {claim['status']}; only approved claims can be paid")
    approved = claim["amount_approved"]
    if approved is None:
        raise ApiError(409, f"claim {claim['number']} has no amount_approved; set it with updateClaim first")
    amount = money(b.get("amount", approved))
    if amount > approved:
        raise invalid({"amount": f"must not exceed amount_approved ({approved:.2f})"})
    approver = recorded_approver(ctx, "payout", "claim_id", claim["id"], amount, b.get("approved_by"),
                                 f"claim {claim['number']}", "approvePayout")
    pay_id = insert(ctx.conn, "payments", {
        "policy_id": claim["policy_id"], "customer_id": claim["customer_id"], "kind": "payout",
        "amount": amount, "status": "completed", "reference": claim["number"],
        "approved_by": approver, "refund_of": None, "claim_id": claim["id"], "reason": None,
        "created_by": ctx.me, "created_at": ctx.now})
    update(ctx.conn, "claims", claim["id"], {"status": "paid"})
    out = claim_row(ctx, claim["id"])
    out["payment"] = must_get(ctx, "payments", pay_id, "payment")
    return 200, out


# --------------------------------------------------------------------------- handlers: approvals

def recorded_approver(ctx: Ctx, kind: str, column: str, row_id: int, amount: float, named: str | None,
                      what: str, op_id: str) -> str | None:
    """The approver of a payment, from the approvals on record: the latest sign-off of ``what`` for at least
    ``amount`` by someone other than the payer. A name in the request is only checked against the record
    (409 when that person has not signed it off): nobody becomes an approver by being named."""
    rows = many(ctx.conn, f"SELECT * FROM approvals WHERE kind = ? AND {column} = ? AND amount >= ? - 0.005 "
                          f"AND approver != ? ORDER BY id DESC", kind, row_id, amount, ctx.me)
    if named is not None:
        must_staff(ctx, named, "approved_by")
        rows = [r for r in rows if r["approver"] == named]
        if not rows:
            raise ApiError(409, f"{named} has not signed off {what} for {amount:.2f} (no approval on record); "
                                f"the approver records it with {op_id} under their own account",
                           {"approved_by": f"no approval by {named} on record"})
    return rows[0]["approver"] if rows else None


def approve(ctx: Ctx, kind: str, column: str, row_id: int, amount: float, limit: float, what: str):
    if amount > limit + 1e-9:
        raise invalid({"amount": f"must not exceed {limit:.2f}"})
    aid = insert(ctx.conn, "approvals", {"kind": kind, "claim_id": row_id if column == "claim_id" else None,
                                         "payment_id": row_id if column == "payment_id" else None,
                                         "amount": amount, "approver": ctx.me, "note": ctx.body.get("note"),
                                         "created_at": ctx.now})
    return 201, must_get(ctx, "approvals", aid, "approval")


def approve_payout(ctx: Ctx):
    claim = claim_row(ctx, ctx.params["claim_id"])
    if claim["status"] != "approved" or claim["amount_approved"] is None:
        raise ApiError(409, f"claim {claim['number']} is {claim['status']}; only an approved claim's payout "
                            "can be signed off")
    amount = money(ctx.body.get("amount", claim["amount_approved"]))
    return approve(ctx, "payout", "claim_id", claim["id"], amount, claim["amount_approved"],
                   f"claim {claim['number']}")


def approve_refund(ctx: Ctx):
    pay = must_get(ctx, "payments", ctx.params["payment_id"], "payment")
    if pay["kind"] != "premium":
        raise ApiError(409, f"payment {pay['id']} is a {pay['kind']}; only refunds of premiums are signed off")
    return approve(ctx, "refund", "payment_id", pay["id"], money(ctx.body["amount"]), pay["amount"],
                   f"payment {pay['id']}")


def list_approvals(ctx: Ctx):
    sql, args = filtered(ctx, "SELECT * FROM approvals", ("claim_id", "payment_id", "kind"))
    return 200, many(ctx.conn, sql + " ORDER BY id", *args)


# --------------------------------------------------------------------------- handlers: payments

def list_payments(ctx: Ctx):
    sql, args = filtered(ctx, "SELECT * FROM payments", ("customer_id", "policy_id", "kind", "status", "claim_id"))
    return 200, many(ctx.conn, sql + " ORDER BY id", *args)


def refunded_total(ctx: Ctx, payment_id: int) -> float:
    total = ctx.conn.execute("SELECT COALESCE(SUM(amount), 0) FROM payments WHERE kind = 'refund' AND "
                             "refund_of = ?", (payment_id,)).fetchone()[0]
    return money(total)


def get_payment(ctx: Ctx):
    pay = must_get(ctx, "payments", ctx.params["payment_id"], "payment")
    if pay["kind"] == "premium":
        pay["refunded_total"] = refunded_total(ctx, pay["id"])
        pay["refundable"] = money(pay["amount"] - pay["refunded_total"])
    return 200, pay


def refund_payment(ctx: Ctx):
    pay = must_get(ctx, "payments", ctx.params["payment_id"], "payment")
    b = ctx.body
    if pay["kind"] != "premium":
        raise ApiError(409, f"payment {pay['id']} is a {pay['kind']}; only premium payments can be refunded")
    if pay["status"] != "completed":
        raise ApiError(409, f"payment {pay['id']} is {pay['status']}; only completed payments can be refunded")
    already = refunded_total(ctx, pay["id"])
    amount = money(b["amount"])
    if amount > money(pay["amount"] - already) + 1e-9:
        raise invalid({"amount": f"refunds of payment {pay['id']} may total at most {pay['amount']:.2f}; "
                                 f"{already:.2f} already refunded, {pay['amount'] - already:.2f} left"})
    approver = recorded_approver(ctx, "refund", "payment_id", pay["id"], amount, b.get("approved_by"),
                                 f"payment {pay['id']}", "approveRefund")
    rid = insert(ctx.conn, "payments", {
        "policy_id": pay["policy_id"], "customer_id": pay["customer_id"], "kind": "refund", "amount": amount,
        "status": "completed", "reference": pay["reference"], "approved_by": approver,
        "refund_of": pay["id"], "claim_id": None, "reason": b["reason"], "created_by": ctx.me,
        "created_at": ctx.now})
    return 201, must_get(ctx, "payments", rid, "payment")


# --------------------------------------------------------------------------- handlers: notes, messages, documents

def list_notes(ctx: Ctx):
    cust = must_get(ctx, "customers", ctx.params["customer_id"], "customer")
    return 200, many(ctx.conn, "SELECT * FROM notes WHERE customer_id = ? ORDER BY id", cust["id"])


def add_note(ctx: Ctx):
    cust = must_get(ctx, "customers", ctx.params["customer_id"], "customer")
    claim_id = ctx.body.get("claim_id")
    if claim_id is not None:
        claim = one(ctx.conn, CLAIM_SELECT + " WHERE c.id = ?", claim_id)
        if claim is None:
            raise ApiError(404, f"claim {claim_id} not found", {"claim_id": f"no claim with id {claim_id}"})
        if claim["customer_id"] != cust["id"]:
            raise invalid({"claim_id": f"claim {claim['number']} belongs to another customer"})
    nid = insert(ctx.conn, "notes", {"customer_id": cust["id"], "claim_id": claim_id, "author": ctx.me,
                                     "body": ctx.body["body"], "created_at": ctx.now})
    return 201, must_get(ctx, "notes", nid, "note")


def delete_note(ctx: Ctx):
    note = must_get(ctx, "notes", ctx.params["note_id"], "note")
    if note["author"] != ctx.me and not ctx.role_at_least("manager"):
        raise ApiError(403, f"note {note['id']} was written by {note['author']}; deleting another person's note "
                            f"requires role manager (you are {ctx.staff['role']})")
    ctx.conn.execute("DELETE FROM notes WHERE id = ?", (note["id"],))
    return 200, {"deleted": True, "id": note["id"]}


def list_messages(ctx: Ctx):
    cust = must_get(ctx, "customers", ctx.params["customer_id"], "customer")
    return 200, many(ctx.conn, "SELECT * FROM messages WHERE customer_id = ? ORDER BY id", cust["id"])


def send_message(ctx: Ctx):
    cust = must_get(ctx, "customers", ctx.params["customer_id"], "customer")
    mid = insert(ctx.conn, "messages", {"customer_id": cust["id"], "direction": "out",
                                        "subject": ctx.body["subject"], "body": ctx.body["body"],
                                        "created_by": ctx.me, "created_at": ctx.now})
    return 201, must_get(ctx, "messages", mid, "message")


def list_documents(ctx: Ctx):
    cust = must_get(ctx, "customers", ctx.params["customer_id"], "customer")
    return 200, many(ctx.conn, "SELECT id, customer_id, claim_id, title, kind, created_at FROM documents "
                               "WHERE customer_id = ? ORDER BY id", cust["id"])


def get_document(ctx: Ctx):
    return 200, must_get(ctx, "documents", ctx.params["document_id"], "document")


# --------------------------------------------------------------------------- handlers: tasks

def list_tasks(ctx: Ctx):
    sql, args = filtered(ctx, "SELECT * FROM tasks", ("assigned_to", "status", "customer_id"))
    if "due_before" in ctx.query:
        sql += " AND due_date <= ?"
        args.append(ctx.query["due_before"])
    return 200, many(ctx.conn, sql + " ORDER BY due_date, id", *args)


def create_task(ctx: Ctx):
    b = ctx.body
    assignee = b.get("assigned_to", ctx.me)
    must_staff(ctx, assignee, "assigned_to")
    if b.get("customer_id") is not None:
        must_get(ctx, "customers", b["customer_id"], "customer", field_name="customer_id")
    tid = insert(ctx.conn, "tasks", {"customer_id": b.get("customer_id"), "title": b["title"],
                                     "due_date": b["due_date"], "assigned_to": assignee, "status": "open",
                                     "created_by": ctx.me, "created_at": ctx.now})
    return 201, must_get(ctx, "tasks", tid, "task")


def update_task(ctx: Ctx):
    task = must_get(ctx, "tasks", ctx.params["task_id"], "task")
    if not ctx.body:
        raise invalid({"body": "give status, due_date, assigned_to and/or title"},
                      "nothing to update: the body has no fields")
    if "assigned_to" in ctx.body:
        must_staff(ctx, ctx.body["assigned_to"], "assigned_to")
    update(ctx.conn, "tasks", task["id"], dict(ctx.body))
    return 200, must_get(ctx, "tasks", task["id"], "task")


def delete_task(ctx: Ctx):
    task = must_get(ctx, "tasks", ctx.params["task_id"], "task")
    if ctx.me not in (task["created_by"], task["assigned_to"]) and not ctx.role_at_least("manager"):
        raise ApiError(403, f"task {task['id']} belongs to {task['assigned_to']}; deleting another person's task "
                            f"requires role manager (you are {ctx.staff['role']})")
    ctx.conn.execute("DELETE FROM tasks WHERE id = ?", (task["id"],))
    return 200, {"deleted": True, "id": task["id"]}


# --------------------------------------------------------------------------- the route table

def S(**kw) -> Field:
    return Field("string", **kw)


def I(**kw) -> Field:  # noqa: E743 - short names keep the table readable
    return Field("integer", **kw)


def N(**kw) -> Field:
    return Field("number", positive=True, **kw)


def B(**kw) -> Field:
    return Field("boolean", **kw)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    op_id: str
    summary: str
    handler: object
    role: str = "agent"
    query: dict = field(default_factory=dict)
    body: dict | None = None
    description: str = ""
    created: bool = False
    tag: str = ""

    @property
    def regex(self) -> re.Pattern:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)


ID = "integer id"
ROUTES = [
    Route("GET", "/api/me", "whoAmI", "The staff member making the request", who_am_i, tag="staff"),
    Route("GET", "/api/customers", "searchCustomers", "Search customers", search_customers, tag="customers",
          description="`q` matches a substring of the name or email, case-insensitively; `email` matches exactly.",
          query={"q": S(description="substring of name or email"), "email": S(description="exact email"),
                 "status": S(enum=("active", "closed"))}),
    Route("POST", "/api/customers", "createCustomer", "Create a customer", create_customer, tag="customers",
          created=True, description="409 if another customer already has the email.",
          body={"name": S(required=True), "email": S(required=True, format="email"), "phone": S(),
                "address": S(), "date_of_birth": S(format="date"), "smoker": B(nullable=True)}),
    Route("GET", "/api/customers/{customer_id}", "getCustomer", "A customer with their policies", get_customer,
          tag="customers"),
    Route("PATCH", "/api/customers/{customer_id}", "updateCustomer", "Change a customer's details",
          update_customer, tag="customers",
          description="Only the given fields change. Closing an account (status closed) needs all its policies "
                      "to be inactive (409 otherwise).",
          body={"email": S(format="email"), "phone": S(nullable=True), "address": S(nullable=True),
                "smoker": B(nullable=True), "status": S(enum=("active", "closed")), "name": S(),
                "date_of_birth": S(format="date", nullable=True)}),
    Route("DELETE", "/api/customers/{customer_id}", "deleteCustomer", "Delete a customer (manager or admin)",
          delete_customer, role="manager", tag="customers",
          description="Deletes the customer with their notes, tasks, messages and documents. 409 if they have "
                      "active policies. Policies, claims and payments are kept as financial records."),
    Route("GET", "/api/policies", "listPolicies", "List policies", list_policies, tag="policies",
          query={"customer_id": I(), "status": S(enum=("active", "lapsed", "cancelled")),
                 "product": S(enum=PRODUCTS)}),
    Route("GET", "/api/policies/{policy_id}", "getPolicy", "A policy with its claims and payments", get_policy,
          tag="policies"),
    Route("POST", "/api/policies/{policy_id}/cancel", "cancelPolicy", "Cancel an active policy", cancel_policy,
          tag="policies", description="409 if the policy is not active.",
          body={"reason": S(required=True, description="why the policy is cancelled")}),
    Route("POST", "/api/quotes", "createQuote", "Price a quote for a customer", create_quote, tag="quotes",
          created=True, description=QUOTE_RULES,
          body={"customer_id": I(required=True), "product": S(required=True, enum=PRODUCTS),
                "coverage_amount": N(required=True, description="sum insured"),
                "term_years": I(minimum=1, maximum=40, description="life: term of the cover"),
                "age": I(minimum=0, maximum=120, description="defaults to the age from date_of_birth"),
                "smoker": B(description="life: defaults to the customer's smoker flag"),
                "bmi": N(maximum=80, description="life: body-mass index"),
                "vehicle_year": I(minimum=1900, description="auto: year the vehicle was built"),
                "trip_days": I(minimum=1, description="travel: length of the trip"),
                "destination": S(description="travel: country or region"),
                "property_value": N(description="home: value of the property")}),
    Route("GET", "/api/quotes", "listQuotes", "List quotes", list_quotes, tag="quotes",
          query={"customer_id": I(), "status": S(enum=("quoted", "declined", "accepted"))}),
    Route("GET", "/api/quotes/{quote_id}", "getQuote", "A quote", get_quote, tag="quotes"),
    Route("POST", "/api/quotes/{quote_id}/accept", "acceptQuote", "Accept a quote, creating an active policy",
          accept_quote, tag="quotes",
          description="Creates policy POL-<next> starting today (2026-11-20) for one year at the quoted premium. "
                      "409 if the quote is declined or already accepted."),
    Route("GET", "/api/claims", "listClaims", "List claims", list_claims, tag="claims",
          query={"status": S(enum=tuple(CLAIM_MOVES)), "policy_id": I(), "customer_id": I(),
                 "assigned_to": S()}),
    Route("GET", "/api/claims/{claim_id}", "getClaim", "A claim with its notes, documents and payments",
          get_claim, tag="claims"),
    Route("POST", "/api/claims", "createClaim", "Open a claim on an active policy", create_claim, tag="claims",
          created=True, description="409 if the policy is not active.",
          body={"policy_id": I(required=True), "type": S(required=True, max_length=60,
                                                          description="e.g. collision, theft, water_damage"),
                "description": S(required=True), "amount_claimed": N(required=True)}),
    Route("PATCH", "/api/claims/{claim_id}", "updateClaim", "Review a claim (adjuster or above)", update_claim,
          role="adjuster", tag="claims",
          description="Moves: open -> under_review/approved/rejected; under_review -> open/approved/rejected; "
                      "approved -> under_review/rejected. Rejected and paid claims are final (409); paid is "
                      "set only by payClaim. Approving needs amount_approved, which may not exceed "
                      "amount_claimed (422).",
          body={"status": S(enum=("open", "under_review", "approved", "rejected", "paid")),
                "amount_approved": N(), "assigned_to": S(nullable=True, description="staff username")}),
    Route("POST", "/api/claims/{claim_id}/payout", "payClaim", "Pay an approved claim (adjuster or above)",
          pay_claim, role="adjuster", tag="claims",
          description="Creates a payout payment and marks the claim paid. 409 unless the claim is approved. "
                      "amount defaults to amount_approved and may not exceed it. The payment's approved_by is the "
                      "manager whose sign-off (approvePayout) is on record; naming someone who has not signed it "
                      "off is a 409.",
          body={"amount": N(), "approved_by": S(description="username of the manager whose recorded sign-off "
                                                            "this payment relies on (optional)")}),
    Route("POST", "/api/claims/{claim_id}/approve-payout", "approvePayout",
          "Sign off the payout of an approved claim under your own account (manager or above)", approve_payout,
          role="manager", tag="claims", created=True,
          description="Records your approval of paying up to amount (default amount_approved) on the claim.",
          body={"amount": N(), "note": S()}),
    Route("GET", "/api/approvals", "listApprovals", "Sign-offs of payouts and refunds on record", list_approvals,
          tag="payments", query={"claim_id": I(), "payment_id": I(), "kind": S(enum=("payout", "refund"))}),
    Route("GET", "/api/payments", "listPayments", "List payments", list_payments, tag="payments",
          query={"customer_id": I(), "policy_id": I(), "kind": S(enum=("premium", "payout", "refund")),
                 "status": S(enum=("completed", "pending")), "claim_id": I()}),
    Route("GET", "/api/payments/{payment_id}", "getPayment", "A payment (premiums show what is refundable)",
          get_payment, tag="payments"),
    Route("POST", "/api/payments/{payment_id}/refund", "refundPayment", "Refund part or all of a premium payment",
          refund_payment, tag="payments", created=True,
          description="Only completed premium payments (409 otherwise). All refunds of one payment together may "
                      "not exceed its amount (422). Creates a payment of kind refund with refund_of set.",
          body={"amount": N(required=True), "reason": S(required=True),
                "approved_by": S(description="username of the manager whose recorded sign-off (approveRefund) "
                                             "this refund relies on (optional; 409 if there is none)")}),
    Route("POST", "/api/payments/{payment_id}/approve-refund", "approveRefund",
          "Sign off refunding up to amount of a premium payment under your own account (manager or above)",
          approve_refund, role="manager", tag="payments", created=True,
          body={"amount": N(required=True), "note": S()}),
    Route("GET", "/api/customers/{customer_id}/notes", "listNotes", "A customer's notes", list_notes, tag="notes"),
    Route("POST", "/api/customers/{customer_id}/notes", "addNote", "Add a note to a customer", add_note,
          tag="notes", created=True,
          body={"body": S(required=True, max_length=10000), "claim_id": I(nullable=True,
                                                                          description="a claim of this customer")}),
    Route("DELETE", "/api/notes/{note_id}", "deleteNote", "Delete a note (your own; any note as manager)",
          delete_note, tag="notes"),
    Route("GET", "/api/customers/{customer_id}/messages", "listMessages",
          "Messages with a customer (in: from the customer, out: from staff)", list_messages, tag="messages"),
    Route("POST", "/api/customers/{customer_id}/messages", "sendMessage", "Send a message to a customer",
          send_message, tag="messages", created=True,
          body={"subject": S(required=True, max_length=200), "body": S(required=True, max_length=10000)}),
    Route("GET", "/api/customers/{customer_id}/documents", "listDocuments", "A customer's documents (no content)",
          list_documents, tag="documents"),
    Route("GET", "/api/documents/{document_id}", "getDocument", "A document with its content", get_document,
          tag="documents"),
    Route("GET", "/api/tasks", "listTasks", "List follow-up tasks", list_tasks, tag="tasks",
          query={"assigned_to": S(description="staff username"), "status": S(enum=("open", "done")),
                 "customer_id": I(), "due_before": S(format="date", description="due on or before")}),
    Route("POST", "/api/tasks", "createTask", "Create a follow-up task", create_task, tag="tasks", created=True,
          body={"title": S(required=True, max_length=200), "due_date": S(required=True, format="date"),
                "assigned_to": S(description="staff username; defaults to you"),
                "customer_id": I(nullable=True)}),
    Route("PATCH", "/api/tasks/{task_id}", "updateTask", "Change a task", update_task, tag="tasks",
          body={"status": S(enum=("open", "done")), "due_date": S(format="date"),
                "assigned_to": S(description="staff username"), "title": S(max_length=200)}),
    Route("DELETE", "/api/tasks/{task_id}", "deleteTask",
          "Delete a task (yours, created or assigned; any task as manager)", delete_task, tag="tasks"),
    Route("GET", "/api/staff", "listStaff", "List staff accounts", list_staff, tag="staff"),
    Route("PATCH", "/api/staff/{staff_id}", "updateStaff", "Change a staff member's role or active flag "
          "(manager or above)", update_staff, role="manager", tag="staff",
          description="Granting admin or changing an admin account requires admin. You cannot change your own "
                      "role or deactivate yourself (409).",
          body={"role": S(enum=ROLES), "active": B()}),
]
COMPILED = [(r, r.regex) for r in ROUTES]


def openapi() -> dict:
    paths: dict = {}
    for r in ROUTES:
        op: dict = {"operationId": r.op_id, "summary": r.summary, "tags": [r.tag] if r.tag else []}
        desc = r.description
        if r.role != "agent":
            desc = (desc + "\n\n" if desc else "") + f"Requires role {r.role} or above (403 otherwise)."
        if desc:
            op["description"] = desc
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "integer"},
                   "description": "integer id"} for p in r.path_params]
        params += [{"name": name, "in": "query", "required": False, "schema": f.schema()}
                   for name, f in r.query.items()]
        if params:
            op["parameters"] = params
        if r.body is not None:
            required = [k for k, f in r.body.items() if f.required]
            schema = {"type": "object", "additionalProperties": False,
                      "properties": {k: f.schema() for k, f in r.body.items()}}
            if required:
                schema["required"] = required
            op["requestBody"] = {"required": bool(required),
                                 "content": {"application/json": {"schema": schema}}}
        ok = "201" if r.created else "200"
        op["responses"] = {
            ok: {"description": "success", "content": {"application/json": {"schema": {}}}},
            "default": {"description": "error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}},
        }
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "Acme Mutual back office API", "version": "1.0.0",
                 "description": "Insurance back office: customers, policies, quotes, claims, payments, tasks, "
                                "notes, documents, messages, staff. Every /api request needs the header "
                                "X-Staff-User: <username>. Errors are {\"error\": message, \"fields\": {...}}: "
                                "400 bad JSON or parameter, 401 unknown user, 403 role, 404 unknown id, "
                                "409 conflict with the current state, 422 invalid fields. Today is 2026-11-20."},
        "servers": [{"url": "/"}],
        "security": [{"staffUser": []}],
        "components": {
            "securitySchemes": {"staffUser": {"type": "apiKey", "in": "header", "name": "X-Staff-User"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}},
        },
        "paths": paths,
    }


# --------------------------------------------------------------------------- running one operation

OPS = {r.op_id: r for r in ROUTES}


def transact(conn: sqlite3.Connection, r: Route, ctx: Ctx, path: str):
    """Run the handler in one transaction; a write that succeeds adds its audit_log row."""
    write = r.method != "GET"
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        ctx.now = now_of(conn)
        status, payload = r.handler(ctx)
        if write:
            insert(conn, "audit_log", {"staff": ctx.me, "method": r.method, "path": path,
                                       "status": status, "at": ctx.now})
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return status, payload


def execute(r: Route, username: str, raw_params: dict, raw_query: str, get_body, path: str | None = None,
            *, skip_empty_patch: bool = False):
    """One operation for the JSON API and the HTML forms alike. Checks in order: staff user (401), role (403),
    path and query (400), body (``get_body()``: 400 from the JSON API's parser) and its fields (422); then the
    handler runs in one transaction (writes one at a time, with their audit_log row under ``path``, the API
    path). ``skip_empty_patch``: a PATCH whose body is empty after the checks is not run; (None, None)."""
    write = r.method != "GET"
    conn = connect()
    try:
        staff = one(conn, "SELECT * FROM staff WHERE username = ?", username)
        if staff is None or not staff["active"]:
            raise ApiError(401, f"'{username}' is not an active staff user")
        if RANK.get(staff["role"], -1) < RANK[r.role]:
            raise ApiError(403, f"{r.op_id} requires role {r.role} or above (you are {staff['role']})")
        params = {}
        for name, value in raw_params.items():
            if not re.fullmatch(r"\d{1,15}", value):
                raise ApiError(400, f"path parameter {name} must be an integer, got {value!r}")
            params[name] = int(value)
        if path is None:
            path = re.sub(r"\{(\w+)\}", lambda m: str(params[m.group(1)]), r.path)
        query = parse_query(parse_qs(raw_query, keep_blank_values=True), r.query)
        body = validate_body(get_body(), r.body or {}) if write else {}
        if skip_empty_patch and r.method == "PATCH" and not body:
            return None, None
        ctx = Ctx(conn, staff, params, query, body, "")
        if write:
            with WRITE_LOCK:
                status, payload = transact(conn, r, ctx, path)
            try:  # keep the main file current for readers that copy it
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass
        else:
            status, payload = transact(conn, r, ctx, path)
    finally:
        conn.close()
    return status, payload


# --------------------------------------------------------------------------- HTML user interface

# Every write operation's form, declared once: the page it is on (path parameters as placeholders), its
# visible fields (label -> API body field) and its button (for deleteNote the button's aria-label; "text" is
# then what the button shows). The pages render their forms from this table (ui_form), and the GUI harness
# reads it to turn API calls into form actions, so the two cannot drift.
UI_FORMS: dict[str, dict] = {
    "createCustomer": {"page": "/customers/new", "fields": {
        "Name": "name", "Email": "email", "Phone": "phone", "Address": "address", "Date of birth": "date_of_birth",
        "Smoker": "smoker"}, "button": "Create customer"},
    "updateCustomer": {"page": "/customers/{customer_id}", "fields": {
        "Full name": "name", "Email": "email", "Phone": "phone", "Address": "address",
        "Date of birth": "date_of_birth", "Smoker": "smoker", "Account status": "status"},
        "button": "Save details"},
    "deleteCustomer": {"page": "/customers/{customer_id}", "fields": {}, "button": "Delete customer"},
    "cancelPolicy": {"page": "/policies/{policy_id}", "fields": {"Reason for cancelling": "reason"},
                     "button": "Cancel policy"},
    "createQuote": {"page": "/quotes/new?customer_id={customer_id}", "fields": {
        "Product": "product", "Coverage amount": "coverage_amount", "Term (years)": "term_years", "Age": "age",
        "Smoker (quote)": "smoker", "BMI": "bmi", "Vehicle year": "vehicle_year", "Trip length (days)": "trip_days",
        "Destination": "destination", "Property value": "property_value"}, "button": "Get quote"},
    "acceptQuote": {"page": "/quotes/{quote_id}", "fields": {}, "button": "Accept quote"},
    "createClaim": {"page": "/policies/{policy_id}", "fields": {
        "Claim type": "type", "What happened": "description", "Amount claimed": "amount_claimed"},
        "button": "Open claim"},
    "updateClaim": {"page": "/claims/{claim_id}", "fields": {
        "Claim status": "status", "Approved amount": "amount_approved", "Assigned to": "assigned_to"},
        "button": "Save claim"},
    "payClaim": {"page": "/claims/{claim_id}", "fields": {
        "Payout amount": "amount", "Relying on sign-off by": "approved_by"}, "button": "Pay claim"},
    "approvePayout": {"page": "/claims/{claim_id}", "fields": {"Sign-off amount": "amount", "Sign-off note": "note"},
                      "button": "Sign off payout"},
    "refundPayment": {"page": "/payments/{payment_id}", "fields": {
        "Refund amount": "amount", "Refund reason": "reason", "Relying on sign-off by": "approved_by"},
        "button": "Refund payment"},
    "approveRefund": {"page": "/payments/{payment_id}", "fields": {"Sign-off amount": "amount",
                                                                   "Sign-off note": "note"},
                      "button": "Sign off refund"},
    "addNote": {"page": "/customers/{customer_id}", "fields": {"New note": "body", "About claim": "claim_id"},
                "button": "Add note"},
    "deleteNote": {"page": "/customers/{customer_id}", "fields": {}, "button": "Delete note {note_id}",
                   "text": "Delete"},
    "sendMessage": {"page": "/customers/{customer_id}", "fields": {"Subject": "subject", "Message": "body"},
                    "button": "Send message"},
    "createTask": {"page": "/tasks/new", "fields": {
        "Title": "title", "Due date": "due_date", "Assign to": "assigned_to", "Customer": "customer_id"},
        "button": "Create task"},
    "updateTask": {"page": "/tasks/{task_id}", "fields": {
        "Task status": "status", "Due date": "due_date", "Assign to": "assigned_to", "Title": "title"},
        "button": "Save task"},
    "deleteTask": {"page": "/tasks/{task_id}", "fields": {}, "button": "Delete task"},
    "updateStaff": {"page": "/staff/{staff_id}", "fields": {"Role": "role", "Account active": "active"},
                    "button": "Save staff member"},
}
UI_LONG_TEXT = {"body", "description"}  # body fields shown as a <textarea>
UI_CREATED_PAGES = {"createCustomer": "/customers/{id}", "createQuote": "/quotes/{id}",
                    "createClaim": "/claims/{id}", "createTask": "/tasks/{id}"}
UI_AFTER_DELETE = {"deleteCustomer": "/customers", "deleteTask": "/tasks"}  # the deleted row's page is gone
NAV = (("Dashboard", "/"), ("Customers", "/customers"), ("Claims", "/claims"), ("Tasks", "/tasks"),
       ("Payments", "/payments"), ("Approvals", "/approvals"), ("Staff", "/staff"))
HTML_TYPE = "text/html; charset=utf-8"

CSS = ("body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:70em}"
       "table{border-collapse:collapse;margin:.5em 0 1em}"
       "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f0f0f0}"
       "nav a{margin-right:1em}nav .who{float:right;color:#555}.muted{color:#777}"
       "section{margin-bottom:1em}form{margin:.5em 0 1em;padding:.5em .8em;border:1px solid #ddd;max-width:36em}"
       "form.inline{display:inline;border:0;padding:0;margin:0}"
       "label{display:block;margin-top:.4em;font-weight:600}"
       "input[type=text],select,textarea{display:block;width:100%;max-width:34em;box-sizing:border-box;"
       "padding:.25em}textarea{height:5em}button{margin-top:.6em}pre{white-space:pre-wrap;background:#f7f7f7;"
       "padding:.6em}p.flash{padding:.5em .8em;border:1px solid}p.ok{background:#eaf7ea;border-color:#7b7}"
       "p.err{background:#fbeaea;border-color:#c77}")


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def link(href: str, text) -> str:
    return f"<a href=\"{esc(href)}\">{esc(text)}</a>"


def section(title: str, body: str) -> str:
    return f"<section aria-label=\"{esc(title)}\"><h2>{esc(title)}</h2>{body}</section>"


def page(title: str, sections: list[tuple[str, str]] | str, staff: dict | None = None,
         flash: tuple[str, str] | None = None) -> str:
    """A whole page: nav (with who is signed in), h1, the flash message, then main's sections."""
    nav = "".join(link(href, text) for text, href in NAV)
    if staff:
        nav += (f"<span class=\"who\">Signed in as {esc(staff['name'])} ({esc(staff['username'])}, "
                f"{esc(staff['role'])})</span>")
    note = ""
    if flash:
        kind, message = flash
        note = (f"<p role=\"{'status' if kind == 'ok' else 'alert'}\" class=\"flash {'ok' if kind == 'ok' else 'err'}\">"
                f"{esc(message)}</p>")
    if isinstance(sections, str):
        sections = [("Details", sections)]
    main = "".join(section(t, b) for t, b in sections)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)} - Acme Mutual"
            f"</title><meta name=\"viewport\" content=\"width=device-width\"><style>{CSS}</style></head><body>"
            f"<nav>{nav}</nav><h1>{esc(title)}</h1>{note}"
            f"<main style=\"display:flex;flex-direction:column\">{main}</main></body></html>")


def table(rows: list[dict], cols: list[str], links: dict | None = None, actions=None) -> str:
    """Rows as a table of plain-text cells; ``links`` column -> URL pattern (no link where the cell is empty);
    ``actions(row)`` -> HTML of a last cell (forms)."""
    if not rows:
        return "<p class=\"muted\">None.</p>"
    links = links or {}
    head = "".join(f"<th>{esc(c)}</th>" for c in cols) + ("<th>actions</th>" if actions else "")
    body = ""
    for r in rows:
        cells = ""
        for c in cols:
            text = esc(r.get(c))
            if c in links and r.get(c) not in (None, ""):
                text = f"<a href=\"{esc(links[c].format(**r))}\">{text}</a>"
            cells += f"<td>{text}</td>"
        if actions:
            cells += f"<td>{actions(r)}</td>"
        body += f"<tr>{cells}</tr>"
    return f"<table><tr>{head}</tr>{body}</table>"


def kv(pairs: list[tuple[str, str]]) -> str:
    """A details table; the values are HTML already (escape them, or use link())."""
    return "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in pairs) + "</table>"


def ui_value(value) -> str:
    """How a value is shown in a form (and compared with _was_ when posted back)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def fill(template: str, values: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), "?")), template)


def ui_form(op_id: str, next_path: str, *, params: dict | None = None, hidden: dict | None = None,
            values: dict | None = None, options: dict | None = None, inline: bool = False) -> str:
    """The form of ``op_id`` from UI_FORMS: hidden path parameters, ``hidden`` body fields and _next; each
    visible field with its label (a PATCH form also carries _was_<field>, the value shown); the button.
    ``options``: field -> [(value, text)] for a select (enums and booleans get theirs from the route)."""
    spec, r = UI_FORMS[op_id], OPS[op_id]
    params, hidden, values, options = params or {}, hidden or {}, values or {}, options or {}
    patch = r.method == "PATCH"
    out = [f"<form method=\"post\" action=\"/ui/op/{op_id}\" data-op=\"{op_id}\""
           + (" class=\"inline\"" if inline else "") + ">"]
    for name, value in [*params.items(), *hidden.items(), ("_next", next_path)]:
        out.append(f"<input type=\"hidden\" name=\"{esc(name)}\" value=\"{esc(ui_value(value))}\">")
    for label, name in spec["fields"].items():
        if name in hidden:
            continue
        f = r.body[name]
        fid = f"{op_id}-{name}"
        shown = ui_value(values.get(name))
        if patch:
            out.append(f"<input type=\"hidden\" name=\"_was_{esc(name)}\" value=\"{esc(shown)}\">")
        out.append(f"<label for=\"{fid}\">{esc(label)}</label>")
        choices = options.get(name)
        if choices is None and (f.enum or f.type == "boolean"):
            blank = f.nullable or (not patch and not f.required)
            choices = ([("", "")] if blank else []) + [
                (v, v) for v in (f.enum or ("yes", "no"))]
        if choices is not None:
            if shown not in [v for v, _ in choices]:
                choices = [*choices, (shown, shown)]
            opts = "".join(f"<option value=\"{esc(v)}\"{' selected' if v == shown else ''}>{esc(t)}</option>"
                           for v, t in choices)
            out.append(f"<select id=\"{fid}\" name=\"{esc(name)}\">{opts}</select>")
        elif name in UI_LONG_TEXT:
            out.append(f"<textarea id=\"{fid}\" name=\"{esc(name)}\">{esc(shown)}</textarea>")
        else:
            hint = " placeholder=\"YYYY-MM-DD\"" if f.format == "date" else ""
            out.append(f"<input type=\"text\" id=\"{fid}\" name=\"{esc(name)}\" value=\"{esc(shown)}\"{hint}>")
    if "text" in spec:
        out.append(f"<button type=\"submit\" aria-label=\"{esc(fill(spec['button'], params))}\">"
                   f"{esc(spec['text'])}</button>")
    else:
        out.append(f"<button type=\"submit\">{esc(spec['button'])}</button>")
    return "".join(out) + "</form>"


def form_value(f: Field, raw: str):
    """A form's text as the JSON value of its field; text that does not parse is passed on as it is, so the
    API's own check names the field (422)."""
    text = raw.strip()
    if f.type == "integer" and re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if f.type == "number":
        if re.fullmatch(r"-?\d{1,15}", text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return raw
        return number if math.isfinite(number) else raw
    if f.type == "boolean" and text.lower() in ("yes", "no", "true", "false"):
        return text.lower() in ("yes", "true")
    return raw


def form_body(r: Route, form: dict[str, str]) -> dict:
    """The JSON body a posted form stands for: "" is left out of a POST form; a PATCH form leaves out what
    still equals its _was_ value and sends null for a cleared nullable field."""
    body = {}
    for name, f in (r.body or {}).items():
        if name not in form:
            continue
        raw = form[name]
        if r.method == "PATCH":
            was = form.get("_was_" + name)
            if was is not None and raw == was:
                continue
            if not raw.strip() and f.nullable:
                body[name] = None
                continue
        elif not raw.strip():
            continue
        body[name] = form_value(f, raw)
    return body


def safe_next(value: str | None) -> str:
    if (not value or not value.startswith("/") or value.startswith("//") or "\\" in value
            or any(ord(ch) < 33 or ord(ch) == 127 for ch in value)):
        return "/"
    return value


# --------------------------------------------------------------------------- HTML pages (GET)

def read(u: Ctx, op_id: str, params: dict | None = None, query: dict | None = None):
    """A read operation's payload, from the API's own handler."""
    return OPS[op_id].handler(Ctx(u.conn, u.staff, params or {}, query or {}, {}, ""))[1]


def ui_query(u: Ctx, op_id: str) -> dict:
    return parse_query(u.query, OPS[op_id].query)


def usernames(u: Ctx, *, roles: tuple = ROLES) -> list[str]:
    return [r["username"] for r in many(u.conn, "SELECT username, role FROM staff WHERE active = 1 ORDER BY id")
            if r["role"] in roles]


def select_options(values, blank: str | None = None) -> list[tuple[str, str]]:
    out = [("", blank)] if blank is not None else []
    return out + [(v, v) if isinstance(v, str) else v for v in values]


def get_form(op_id: str, action: str, fields: list[tuple[str, str, str, list | None]], button: str) -> str:
    """A GET form (search, filters): fields are (label, name, current value, select options or None)."""
    out = [f"<form method=\"get\" action=\"{esc(action)}\" data-op=\"{op_id}\">"]
    for label, name, value, choices in fields:
        fid = f"{op_id}-{name}"
        out.append(f"<label for=\"{fid}\">{esc(label)}</label>")
        if choices is None:
            out.append(f"<input type=\"text\" id=\"{fid}\" name=\"{name}\" value=\"{esc(value)}\">")
        else:
            opts = "".join(f"<option value=\"{esc(v)}\"{' selected' if v == value else ''}>{esc(t)}</option>"
                           for v, t in choices)
            out.append(f"<select id=\"{fid}\" name=\"{name}\">{opts}</select>")
    return "".join(out) + f"<button type=\"submit\">{esc(button)}</button></form>"


def raw_q(u: Ctx, name: str) -> str:
    values = u.query.get(name) or [""]
    return values[-1]


def customer_names(u: Ctx) -> dict:
    return {r["id"]: r["name"] for r in many(u.conn, "SELECT id, name FROM customers")}


def task_rows(u: Ctx, tasks: list[dict]) -> list[dict]:
    names = customer_names(u)
    return [{**t, "customer": names.get(t["customer_id"], t["customer_id"])} for t in tasks]


TASK_COLS = ["id", "title", "customer", "due_date", "assigned_to", "status"]
TASK_LINKS = {"id": "/tasks/{id}", "title": "/tasks/{id}", "customer": "/customers/{customer_id}"}


def ui_dashboard(u: Ctx):
    conn = u.conn
    counts = {
        "Customers": conn.execute("SELECT COUNT(*) FROM customers WHERE status = 'active'").fetchone()[0],
        "Active policies": conn.execute("SELECT COUNT(*) FROM policies WHERE status = 'active'").fetchone()[0],
        "Open claims": conn.execute("SELECT COUNT(*) FROM claims WHERE status IN ('open', 'under_review', "
                                    "'approved')").fetchone()[0],
        "Open tasks": conn.execute("SELECT COUNT(*) FROM tasks WHERE status = 'open'").fetchone()[0],
    }
    claims = many(conn, "SELECT c.*, p.number AS policy_number, cu.name AS customer FROM claims c "
                        "JOIN policies p ON p.id = c.policy_id LEFT JOIN customers cu ON cu.id = p.customer_id "
                        "WHERE c.status IN ('open', 'under_review', 'approved') ORDER BY c.id")
    mine = task_rows(u, read(u, "listTasks", query={"assigned_to": u.me, "status": "open"}))
    return "Acme Mutual back office", [
        ("Today", f"<p>Today is {TODAY.isoformat()}.</p>" + kv([(k, esc(v)) for k, v in counts.items()])),
        ("Open claims", table(claims, ["number", "customer", "policy_number", "type", "status", "amount_claimed",
                                       "amount_approved", "assigned_to"], {"number": "/claims/{id}"})),
        ("My open tasks", table(mine, TASK_COLS, TASK_LINKS)),
    ]


def ui_customers(u: Ctx):
    query = ui_query(u, "searchCustomers")
    rows = read(u, "searchCustomers", query=query)
    search = get_form("searchCustomers", "/customers", [("Search customers", "q", raw_q(u, "q"), None)], "Search")
    return "Customers", [
        ("Search", search),
        ("Customers", f"<p>{link('/customers/new', 'New customer')}</p>"
         + table(rows, ["id", "name", "email", "phone", "date_of_birth", "status"], {"name": "/customers/{id}"})),
    ]


def ui_new_customer(u: Ctx):
    return "New customer", [("New customer", ui_form("createCustomer", "/customers/new"))]


def ui_customer(u: Ctx, cid: int):
    cust = read(u, "getCustomer", {"customer_id": cid})
    here = f"/customers/{cid}"
    details = kv([(k, esc(ui_value(cust[k]))) for k in ("id", "name", "email", "phone", "address", "date_of_birth",
                                                         "age", "smoker", "status", "created_at")])
    quotes = read(u, "listQuotes", query={"customer_id": cid})
    claims = read(u, "listClaims", query={"customer_id": cid})
    payments = many(u.conn, "SELECT pay.*, p.number AS policy_number FROM payments pay LEFT JOIN policies p "
                            "ON p.id = pay.policy_id WHERE pay.customer_id = ? ORDER BY pay.id", cid)
    tasks = read(u, "listTasks", query={"customer_id": cid})
    docs = many(u.conn, "SELECT d.id, d.title, d.kind, d.claim_id, c.number AS claim, d.created_at FROM documents d "
                        "LEFT JOIN claims c ON c.id = d.claim_id WHERE d.customer_id = ? ORDER BY d.id", cid)
    notes = many(u.conn, "SELECT n.*, c.number AS claim FROM notes n LEFT JOIN claims c ON c.id = n.claim_id "
                         "WHERE n.customer_id = ? ORDER BY n.id", cid)
    msgs = read(u, "listMessages", {"customer_id": cid})
    claim_choices = [("", "(none)")] + [(str(c["id"]), c["number"]) for c in claims]

    def delete_note(n):
        return ui_form("deleteNote", here, params={"note_id": n["id"]}, inline=True)

    return cust["name"], [
        ("Details", details + ui_form("updateCustomer", here, params={"customer_id": cid}, values=cust)),
        ("Policies", table(cust["policies"], ["id", "number", "product", "status", "premium_monthly", "start_date",
                                              "end_date"], {"number": "/policies/{id}"})),
        ("Quotes", table(quotes, ["id", "product", "status", "premium_monthly", "reason", "created_at"],
                         {"id": "/quotes/{id}"})
         + f"<p>{link(f'/quotes/new?customer_id={cid}', 'New quote')}</p>"),
        ("Claims", table(claims, ["id", "number", "policy_number", "type", "status", "amount_claimed",
                                  "amount_approved", "assigned_to"], {"number": "/claims/{id}"})),
        ("Payments", table(payments, ["id", "policy_number", "kind", "amount", "status", "reference", "created_at"],
                           {"id": "/payments/{id}"})),
        ("Tasks", table(tasks, ["id", "title", "due_date", "assigned_to", "status"],
                        {"id": "/tasks/{id}", "title": "/tasks/{id}"})
         + f"<p>{link(f'/tasks/new?customer_id={cid}', 'New task')}</p>"),
        ("Documents", table(docs, ["id", "title", "kind", "claim", "created_at"],
                            {"title": "/documents/{id}", "claim": "/claims/{claim_id}"})),
        ("Notes", table(notes, ["id", "created_at", "author", "claim", "body"], actions=delete_note)
         + ui_form("addNote", here, params={"customer_id": cid}, options={"claim_id": claim_choices})),
        ("Messages", table(msgs, ["id", "created_at", "direction", "subject", "body"])
         + ui_form("sendMessage", here, params={"customer_id": cid})),
        ("Danger zone", ui_form("deleteCustomer", here, params={"customer_id": cid})),
    ]


def ui_policy(u: Ctx, pid: int):
    pol = read(u, "getPolicy", {"policy_id": pid})
    here = f"/policies/{pid}"
    who = (link(f"/customers/{pol['customer_id']}", pol["customer_name"]) if pol["customer_name"]
           else esc(pol["customer_id"]))
    details = kv([("id", esc(pol["id"])), ("number", esc(pol["number"])), ("customer", who)]
                 + [(k, esc(pol[k])) for k in ("product", "status", "premium_monthly", "start_date", "end_date",
                                               "cancel_reason", "cancelled_at")])
    return f"Policy {pol['number']}", [
        ("Details", details),
        ("Claims", table(pol["claims"], ["id", "number", "type", "status", "amount_claimed", "amount_approved"],
                         {"number": "/claims/{id}"})),
        ("Payments", table(pol["payments"], ["id", "kind", "amount", "status", "reference", "created_at"],
                           {"id": "/payments/{id}"})),
        ("Cancel policy", ui_form("cancelPolicy", here, params={"policy_id": pid})),
        ("New claim", ui_form("createClaim", here, hidden={"policy_id": pid})),
    ]


def ui_new_quote(u: Ctx):
    raw = raw_q(u, "customer_id").strip()
    if not raw:
        raise ApiError(400, "choose the customer first: /quotes/new?customer_id=<id> (see the customer's page)")
    if not raw.isdigit():
        raise ApiError(400, f"{raw} is not a number.")
    cust = read(u, "getCustomer", {"customer_id": int(raw)})
    here = f"/quotes/new?customer_id={cust['id']}"
    about = kv([("customer", link(f"/customers/{cust['id']}", cust["name"])), ("age", esc(cust["age"])),
                ("smoker", esc(ui_value(cust["smoker"]))), ("status", esc(cust["status"]))])
    form = ui_form("createQuote", here, hidden={"customer_id": cust["id"]},
                   options={"smoker": [("", "(customer's record)"), ("yes", "yes"), ("no", "no")]})
    return f"New quote for {cust['name']}", [("Customer", about), ("Quote", form)]


def ui_quote(u: Ctx, qid: int):
    q = read(u, "getQuote", {"quote_id": qid})
    cust = one(u.conn, "SELECT name FROM customers WHERE id = ?", q["customer_id"])
    pairs = [("id", esc(q["id"])),
             ("customer", link(f"/customers/{q['customer_id']}", cust["name"]) if cust else esc(q["customer_id"]))]
    pairs += [(k, esc(q[k])) for k in ("product", "status", "premium_monthly", "reason")]
    pairs.append(("policy", link(f"/policies/{q['policy_id']}", q["policy_id"]) if q["policy_id"] else ""))
    pairs += [(k, esc(q[k])) for k in ("created_by", "created_at")]
    pairs.append(("inputs", f"<pre>{esc(json.dumps(q['inputs'], indent=2, sort_keys=True))}</pre>"))
    return f"Quote {qid}", [("Details", kv(pairs)),
                            ("Accept", ui_form("acceptQuote", f"/quotes/{qid}", params={"quote_id": qid}))]


def ui_claims(u: Ctx):
    query = ui_query(u, "listClaims")
    names = customer_names(u)
    rows = [{**c, "customer": names.get(c["customer_id"], c["customer_id"])}
            for c in read(u, "listClaims", query=query)]
    everyone = [r["username"] for r in many(u.conn, "SELECT username FROM staff ORDER BY id")]
    filters = get_form("listClaims", "/claims", [
        ("Claim status", "status", raw_q(u, "status"), select_options(CLAIM_MOVES, "(any)")),
        ("Assigned to", "assigned_to", raw_q(u, "assigned_to"), select_options(everyone, "(anyone)"))], "Filter")
    return "Claims", [("Filter", filters), ("Claims", table(
        rows, ["id", "number", "customer", "policy_number", "type", "description", "status", "amount_claimed",
               "amount_approved", "assigned_to"], {"number": "/claims/{id}", "customer": "/customers/{customer_id}",
                                "policy_number": "/policies/{policy_id}"}))]


APPROVAL_COLS = ["id", "kind", "claim_id", "payment_id", "amount", "approver", "note", "created_at"]
APPROVAL_LINKS = {"claim_id": "/claims/{claim_id}", "payment_id": "/payments/{payment_id}"}


def ui_claim(u: Ctx, cid: int):
    claim = read(u, "getClaim", {"claim_id": cid})
    here = f"/claims/{cid}"
    cust = one(u.conn, "SELECT name FROM customers WHERE id = ?", claim["customer_id"])
    who = link(f"/customers/{claim['customer_id']}", cust["name"]) if cust else esc(claim["customer_id"])
    details = kv([("number", esc(claim["number"])), ("customer", who),
                  ("policy_number", link(f"/policies/{claim['policy_id']}", claim["policy_number"]))]
                 + [(k, esc(claim[k])) for k in ("type", "description", "amount_claimed", "amount_approved",
                                                 "status", "assigned_to", "created_at")])
    approvals = read(u, "listApprovals", query={"claim_id": cid})
    signers = [("", "(nobody)")] + [(n, n) for n in usernames(u, roles=("manager", "admin"))]
    assignees = [("", "(nobody)")] + [(n, n) for n in usernames(u)]

    def delete_note(n):
        return ui_form("deleteNote", here, params={"note_id": n["id"]}, inline=True)

    return f"Claim {claim['number']}", [
        ("Details", details),
        ("Review", ui_form("updateClaim", here, params={"claim_id": cid}, values=claim,
                           options={"assigned_to": assignees})),
        ("Payout", ui_form("payClaim", here, params={"claim_id": cid}, options={"approved_by": signers})),
        ("Sign-off", ui_form("approvePayout", here, params={"claim_id": cid})),
        ("Notes", table(claim["notes"], ["id", "created_at", "author", "body"], actions=delete_note)
         + ui_form("addNote", here, params={"customer_id": claim["customer_id"]}, hidden={"claim_id": cid})),
        ("Documents", table(claim["documents"], ["id", "title", "kind", "created_at"],
                            {"title": "/documents/{id}"})),
        ("Payments", table(claim["payments"], ["id", "kind", "amount", "status", "reference", "approved_by",
                                               "created_at"], {"id": "/payments/{id}"})),
        ("Approvals", table(approvals, APPROVAL_COLS, APPROVAL_LINKS)),
    ]


PAYMENT_COLS = ["id", "customer", "policy_number", "kind", "amount", "status", "reference", "refund_of", "claim",
                "created_at"]
PAYMENT_LINKS = {"id": "/payments/{id}", "customer": "/customers/{customer_id}",
                 "policy_number": "/policies/{policy_id}", "refund_of": "/payments/{refund_of}",
                 "claim": "/claims/{claim_id}"}


def payment_rows(u: Ctx, rows: list[dict]) -> list[dict]:
    names = customer_names(u)
    policies = {r["id"]: r["number"] for r in many(u.conn, "SELECT id, number FROM policies")}
    claims = {r["id"]: r["number"] for r in many(u.conn, "SELECT id, number FROM claims")}
    return [{**p, "customer": names.get(p["customer_id"], p["customer_id"]),
             "policy_number": policies.get(p["policy_id"], p["policy_id"]), "claim": claims.get(p["claim_id"])}
            for p in rows]


def ui_payments(u: Ctx):
    query = ui_query(u, "listPayments")
    rows = payment_rows(u, read(u, "listPayments", query=query))
    filters = get_form("listPayments", "/payments", [
        ("Kind", "kind", raw_q(u, "kind"), select_options(("premium", "payout", "refund"), "(any)")),
        ("Customer id", "customer_id", raw_q(u, "customer_id"), None)], "Filter")
    return "Payments", [("Filter", filters), ("Payments", table(rows, PAYMENT_COLS, PAYMENT_LINKS))]


def ui_payment(u: Ctx, pid: int):
    pay = read(u, "getPayment", {"payment_id": pid})
    here = f"/payments/{pid}"
    row = payment_rows(u, [pay])[0]
    pairs = [("customer", link(f"/customers/{pay['customer_id']}", row["customer"])),
             ("policy", link(f"/policies/{pay['policy_id']}", row["policy_number"]))]
    for k, v in pay.items():
        if k == "refund_of" and v is not None:
            pairs.append((k, link(f"/payments/{v}", v)))
        elif k == "claim_id" and v is not None:
            pairs.append((k, link(f"/claims/{v}", row["claim"] or v)))
        else:
            pairs.append((k, esc(v)))
    refunds = payment_rows(u, many(u.conn, "SELECT * FROM payments WHERE kind = 'refund' AND refund_of = ? "
                                           "ORDER BY id", pid))
    approvals = read(u, "listApprovals", query={"payment_id": pid})
    if pay["claim_id"] is not None:
        approvals += read(u, "listApprovals", query={"claim_id": pay["claim_id"]})
    signers = [("", "(nobody)")] + [(n, n) for n in usernames(u, roles=("manager", "admin"))]
    return f"Payment {pid}", [
        ("Details", kv(pairs)),
        ("Refunds", table(refunds, PAYMENT_COLS, PAYMENT_LINKS)),
        ("Approvals", table(approvals, APPROVAL_COLS, APPROVAL_LINKS)),
        ("Refund", ui_form("refundPayment", here, params={"payment_id": pid}, options={"approved_by": signers})),
        ("Sign-off", ui_form("approveRefund", here, params={"payment_id": pid})),
    ]


def ui_approvals(u: Ctx):
    return "Approvals", [("Approvals", table(read(u, "listApprovals"), APPROVAL_COLS, APPROVAL_LINKS))]


def ui_document(u: Ctx, did: int):
    doc = read(u, "getDocument", {"document_id": did})
    cust = one(u.conn, "SELECT name FROM customers WHERE id = ?", doc["customer_id"])
    claim = one(u.conn, "SELECT number FROM claims WHERE id = ?", doc["claim_id"]) if doc["claim_id"] else None
    pairs = [("id", esc(doc["id"])), ("kind", esc(doc["kind"])),
             ("customer", link(f"/customers/{doc['customer_id']}", cust["name"]) if cust else esc(doc["customer_id"])),
             ("claim", link(f"/claims/{doc['claim_id']}", claim["number"]) if claim else esc(doc["claim_id"])),
             ("created_at", esc(doc["created_at"]))]
    return doc["title"], [("Details", kv(pairs)), ("Content", f"<pre>{esc(doc['content'])}</pre>")]


def ui_tasks(u: Ctx):
    query = ui_query(u, "listTasks")
    rows = task_rows(u, read(u, "listTasks", query=query))
    everyone = [r["username"] for r in many(u.conn, "SELECT username FROM staff ORDER BY id")]
    filters = get_form("listTasks", "/tasks", [
        ("Assigned to", "assigned_to", raw_q(u, "assigned_to"), select_options(everyone, "(anyone)")),
        ("Task status", "status", raw_q(u, "status"), select_options(("open", "done"), "(any)"))], "Filter")
    return "Tasks", [("Filter", filters),
                     ("Tasks", f"<p>{link('/tasks/new', 'New task')}</p>" + table(rows, TASK_COLS, TASK_LINKS))]


def ui_new_task(u: Ctx):
    raw = raw_q(u, "customer_id").strip()
    customers = [(str(r["id"]), f"{r['name']} ({r['id']})") for r in many(u.conn, "SELECT id, name FROM customers "
                                                                                  "ORDER BY id")]
    form = ui_form("createTask", "/tasks/new" + (f"?customer_id={raw}" if raw.isdigit() else ""),
                   values={"assigned_to": u.me, "customer_id": raw if raw.isdigit() else ""},
                   options={"assigned_to": [(n, n) for n in usernames(u)],
                            "customer_id": [("", "(no customer)")] + customers})
    return "New task", [("New task", form)]


def ui_task(u: Ctx, tid: int):
    task = must_get(u, "tasks", tid, "task")
    here = f"/tasks/{tid}"
    cust = one(u.conn, "SELECT name FROM customers WHERE id = ?", task["customer_id"]) if task["customer_id"] else None
    pairs = [("id", esc(task["id"])), ("title", esc(task["title"])),
             ("customer", link(f"/customers/{task['customer_id']}", cust["name"]) if cust
              else esc(task["customer_id"]))]
    pairs += [(k, esc(task[k])) for k in ("due_date", "assigned_to", "status", "created_by", "created_at")]
    return f"Task {tid}: {task['title']}", [
        ("Details", kv(pairs)),
        ("Change", ui_form("updateTask", here, params={"task_id": tid}, values=task,
                           options={"assigned_to": [(n, n) for n in usernames(u)]})),
        ("Delete", ui_form("deleteTask", here, params={"task_id": tid})),
    ]


def ui_staff_list(u: Ctx):
    rows = [{**r, "active": ui_value(r["active"])} for r in read(u, "listStaff")]
    return "Staff", [("Staff", table(rows, ["id", "username", "name", "role", "active"], {"id": "/staff/{id}"}))]


def ui_staff(u: Ctx, sid: int):
    member = staff_out(must_get(u, "staff", sid, "staff member"))
    pairs = [(k, esc(ui_value(member[k]))) for k in ("id", "username", "name", "role", "active")]
    return f"Staff member {member['username']}", [
        ("Details", kv(pairs)),
        ("Change", ui_form("updateStaff", f"/staff/{sid}", params={"staff_id": sid}, values=member)),
    ]


UI_PAGES = {"/": ui_dashboard, "/customers": ui_customers, "/customers/new": ui_new_customer,
            "/quotes/new": ui_new_quote, "/claims": ui_claims, "/payments": ui_payments, "/approvals": ui_approvals,
            "/tasks": ui_tasks, "/tasks/new": ui_new_task, "/staff": ui_staff_list}
UI_ROW_PAGES = {"customers": (ui_customer, "customer"), "policies": (ui_policy, "policy"),
                "quotes": (ui_quote, "quote"), "claims": (ui_claim, "claim"), "payments": (ui_payment, "payment"),
                "documents": (ui_document, "document"), "tasks": (ui_task, "task"),
                "staff": (ui_staff, "staff member")}


def ui_page(u: Ctx, path: str):
    """(title, sections) of a GET page; ApiError 400/404 for a bad or unknown id or path."""
    if path in UI_PAGES:
        return UI_PAGES[path](u)
    m = re.fullmatch(r"/([a-z]+)/([^/]+)", path)
    if m and m.group(1) in UI_ROW_PAGES:
        render, what = UI_ROW_PAGES[m.group(1)]
        raw = m.group(2)
        if not re.fullmatch(r"\d{1,15}", raw):
            raise ApiError(400, f"{raw} is not a number.")
        try:
            return render(u, int(raw))
        except ApiError as exc:
            if exc.status == 404:
                raise ApiError(404, f"No {what} {raw}.") from None
            raise
    raise ApiError(404, f"No page {path}.")


def flash_cookie(kind: str, message: str) -> str:
    if len(message) > 1200:
        message = message[:1200] + "..."
    return f"lb_flash={kind}.{quote(message, safe='')}; Path=/; HttpOnly; SameSite=Lax"


CLEAR_FLASH = "lb_flash=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
ERROR_TITLES = {400: "Bad request", 401: "Not signed in", 403: "Forbidden", 404: "Not found",
                405: "Method not allowed"}


# --------------------------------------------------------------------------- HTTP

def reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class Handler(BaseHTTPRequestHandler):
    server_version = "AcmeMutual/1.0"
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):  # one brief line per request, to stderr
        sys.stderr.write((fmt % args) + "\n")

    # one entry point for every method
    def do_GET(self):
        self.dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def send(self, status: int, payload, *, content_type="application/json; charset=utf-8",
             headers: dict | None = None) -> None:
        if isinstance(payload, str):
            data = payload.encode("utf-8")
        else:
            data = (json.dumps(payload, ensure_ascii=False) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "Content-Length must be an integer") from None
        if n < 0 or n > MAX_BODY:
            raise ApiError(400, f"request body must be at most {MAX_BODY} bytes")
        return self.rfile.read(n)

    def dispatch(self) -> None:
        try:
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/") or "/"
            if path in ("/openapi.json", "/api/openapi.json", "/health"):
                if self.command != "GET":
                    raise ApiError(405, f"method {self.command} is not allowed on {path}; allowed: GET",
                                   headers={"Allow": "GET"})
                return self.send(200, {"ok": True} if path == "/health" else openapi())
            if path.startswith("/api/") or path == "/api":
                return self.api(path, parts.query)
            if path.startswith("/ui/"):
                return self.ui_post(path)
            if self.command == "GET":
                return self.html(path, parts.query)
            raise ApiError(404, f"no route {self.command} {path}")
        except ApiError as exc:
            self.send(exc.status, exc.body(), headers=exc.headers)
        except Exception as exc:  # a bug: answer 500 with the type, log the details
            sys.stderr.write(f"500 on {self.command} {self.path}: {exc!r}\n")
            self.send(500, {"error": f"internal error: {type(exc).__name__}"})

    def route(self, path: str) -> tuple[Route, dict]:
        allowed = []
        for r, rx in COMPILED:
            m = rx.match(path)
            if m:
                if r.method == self.command:
                    return r, m.groupdict()
                allowed.append(r.method)
        if allowed:
            raise ApiError(405, f"method {self.command} is not allowed on {path}; allowed: {', '.join(allowed)}",
                           headers={"Allow": ", ".join(allowed)})
        raise ApiError(404, f"no API route {path}; see /openapi.json for the list")

    def api(self, path: str, raw_query: str) -> None:
        """Checks in order: route (404/405), staff user (401), role (403), path and query (400),
        body JSON (400), body fields (422); then the handler runs in one transaction."""
        r, raw_params = self.route(path)
        username = (self.headers.get("X-Staff-User") or "").strip()
        if not username:
            raise ApiError(401, "missing X-Staff-User header: send your staff username")
        status, payload = execute(r, username, raw_params, raw_query, self.json_body, path)
        self.send(status, payload)

    def json_body(self) -> dict:
        raw = self.read_body()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    transact = staticmethod(transact)

    # ----------------------------------------------------------------------- the HTML user interface

    def cookies(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name not in out:
                out[name] = unquote(value.strip().strip('"'))
        return out

    def ui_staff(self) -> dict | None:
        """The signed-in staff member (cookie lb_staff), if active."""
        username = self.cookies().get("lb_staff", "").strip()
        if not username:
            return None
        conn = connect()
        try:
            staff = one(conn, "SELECT * FROM staff WHERE username = ?", username)
        finally:
            conn.close()
        return staff if staff is not None and staff["active"] else None

    def send_page(self, status: int, title: str, sections, staff: dict | None, *, headers: dict | None = None):
        flash, headers = None, dict(headers or {})
        raw = self.cookies().get("lb_flash")
        if raw:
            kind, _, message = raw.partition(".")
            flash = (kind, message)
            headers["Set-Cookie"] = CLEAR_FLASH
        self.send(status, page(title, sections, staff, flash), content_type=HTML_TYPE, headers=headers)

    def send_error_page(self, status: int, message: str, staff: dict | None = None, headers: dict | None = None):
        title = ERROR_TITLES.get(status, f"Error {status}")
        self.send(status, page(title, [(title, f"<p>{esc(message)}</p>")], staff), content_type=HTML_TYPE,
                  headers=headers)

    def not_signed_in(self) -> None:
        self.send_error_page(401, "Sign in first: the cookie lb_staff must name an active staff user.")

    def html(self, path: str, raw_query: str) -> None:
        staff = self.ui_staff()
        if staff is None:
            return self.not_signed_in()
        conn = connect()
        try:
            u = Ctx(conn, staff, {}, parse_qs(raw_query, keep_blank_values=True), {}, "")
            title, sections = ui_page(u, path)
        except ApiError as exc:
            return self.send_error_page(exc.status, exc.message, staff)
        finally:
            conn.close()
        self.send_page(200, title, sections, staff)

    def ui_post(self, path: str) -> None:
        """POST /ui/op/<opId>: a form of UI_FORMS, run through execute() like the JSON API; then 303 to _next
        (or the created row's page) with a flash message in the lb_flash cookie."""
        m = re.fullmatch(r"/ui/op/(\w+)", path)
        r = OPS.get(m.group(1)) if m else None
        if r is None or r.method == "GET" or r.op_id not in UI_FORMS:
            return self.send_error_page(404, f"No form {path}.")
        if self.command != "POST":
            return self.send_error_page(405, f"{path} takes POST from its form only; nothing was changed.",
                                        headers={"Allow": "POST"})
        staff = self.ui_staff()
        if staff is None:
            return self.not_signed_in()
        try:
            raw = self.read_body().decode("utf-8", errors="replace")
        except ApiError as exc:
            return self.send_error_page(exc.status, exc.message, staff)
        form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        target = safe_next(form.get("_next"))
        raw_params = {name: form.get(name, "").strip() for name in r.path_params}
        button = fill(UI_FORMS[r.op_id]["button"], form)
        try:
            status, payload = execute(r, staff["username"], raw_params, "", lambda: form_body(r, form),
                                      skip_empty_patch=True)
        except ApiError as exc:
            message = f"Could not {button.lower()}: HTTP {exc.status}: {exc.message}"
            if exc.fields:
                message += " (" + "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) + ")"
            return self.redirect(target, "err", message)
        if status is None:
            return self.redirect(target, "ok", "Nothing changed")
        message = f"Done: {r.summary}"
        if isinstance(payload, dict):
            if payload.get("number"):
                message += f" ({payload['number']})"
            elif payload.get("id") is not None:
                message += f" (id {payload['id']})"
        if r.op_id in UI_CREATED_PAGES and isinstance(payload, dict) and payload.get("id") is not None:
            target = UI_CREATED_PAGES[r.op_id].format(id=payload["id"])
        elif r.op_id in UI_AFTER_DELETE:
            target = UI_AFTER_DELETE[r.op_id]
        return self.redirect(target, "ok", message)

    def redirect(self, location: str, kind: str, message: str) -> None:
        self.send(303, page("See other", [("See other", f"<p>{link(location, location)}</p>")]),
                  content_type=HTML_TYPE, headers={"Location": location, "Set-Cookie": flash_cookie(kind, message)})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def stop(signum, frame):
    """SIGTERM (docker stop): leave serve_forever like Ctrl-C does; PID 1 would otherwise ignore it."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    global DB_PATH
    ap = argparse.ArgumentParser(description="Acme Mutual back office (insurance web application)")
    ap.add_argument("--db", required=True, help="sqlite database file; created from schema.sql + seed.sql "
                                                "when missing")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="0.0.0.0")
    args = ap.parse_args(argv)
    DB_PATH = os.path.abspath(args.db)
    created = init_db(DB_PATH)
    server = Server((args.host, args.port), Handler)
    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write(f"Acme Mutual back office on http://{args.host}:{args.port} "
                     f"(db {DB_PATH}{', created' if created else ''})\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
