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
from urllib.parse import parse_qs, urlsplit

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


# --------------------------------------------------------------------------- HTML pages

CSS = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}"
       "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f0f0f0}"
       "nav a{margin-right:1em}.muted{color:#777}")


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)} - Acme Mutual"
            f"</title><style>{CSS}</style></head><body><nav><a href=\"/\">Dashboard</a>"
            f"<a href=\"/customers\">Customers</a></nav><h1>{esc(title)}</h1>{body}</body></html>")


def table(rows: list[dict], cols: list[str], links: dict | None = None) -> str:
    if not rows:
        return "<p class=\"muted\">None.</p>"
    links = links or {}
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = ""
    for r in rows:
        cells = ""
        for c in cols:
            text = esc(r.get(c))
            if c in links:
                text = f"<a href=\"{esc(links[c].format(**r))}\">{text}</a>"
            cells += f"<td>{text}</td>"
        body += f"<tr>{cells}</tr>"
    return f"<table><tr>{head}</tr>{body}</table>"


def html_dashboard(conn) -> str:
    counts = {
        "Customers": conn.execute("SELECT COUNT(*) FROM customers WHERE status = 'active'").fetchone()[0],
        "Active policies": conn.execute("SELECT COUNT(*) FROM policies WHERE status = 'active'").fetchone()[0],
        "Open claims": conn.execute("SELECT COUNT(*) FROM claims WHERE status IN ('open', 'under_review', "
                                    "'approved')").fetchone()[0],
        "Open tasks": conn.execute("SELECT COUNT(*) FROM tasks WHERE status = 'open'").fetchone()[0],
    }
    stats = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in counts.items())
    claims = many(conn, "SELECT c.*, p.number AS policy_number, cu.name AS customer FROM claims c "
                        "JOIN policies p ON p.id = c.policy_id LEFT JOIN customers cu ON cu.id = p.customer_id "
                        "WHERE c.status IN ('open', 'under_review', 'approved') ORDER BY c.id")
    body = (f"<p>Today is {TODAY.isoformat()}.</p><table>{stats}</table><h2>Open claims</h2>"
            + table(claims, ["number", "customer", "policy_number", "type", "status", "amount_claimed",
                             "amount_approved", "assigned_to"], {"number": "/claims/{id}"}))
    return page("Acme Mutual back office", body)


def html_customers(conn) -> str:
    rows = many(conn, "SELECT * FROM customers ORDER BY id")
    return page("Customers", table(rows, ["id", "name", "email", "phone", "date_of_birth", "status"],
                                   {"name": "/customers/{id}"}))


def html_customer(conn, cid: int) -> str | None:
    cust = one(conn, "SELECT * FROM customers WHERE id = ?", cid)
    if cust is None:
        return None
    details = "".join(f"<tr><th>{esc(k)}</th><td>{esc(cust[k])}</td></tr>"
                      for k in ("id", "email", "phone", "address", "date_of_birth", "smoker", "status"))
    policies = many(conn, "SELECT * FROM policies WHERE customer_id = ? ORDER BY id", cid)
    claims = many(conn, CLAIM_SELECT + " WHERE p.customer_id = ? ORDER BY c.id", cid)
    notes = many(conn, "SELECT * FROM notes WHERE customer_id = ? ORDER BY id", cid)
    msgs = many(conn, "SELECT * FROM messages WHERE customer_id = ? ORDER BY id", cid)
    body = (f"<table>{details}</table><h2>Policies</h2>"
            + table(policies, ["number", "product", "status", "premium_monthly", "start_date", "end_date"])
            + "<h2>Claims</h2>" + table(claims, ["number", "policy_number", "type", "status", "amount_claimed"],
                                        {"number": "/claims/{id}"})
            + "<h2>Notes</h2>" + table(notes, ["created_at", "author", "body"])
            + "<h2>Messages</h2>" + table(msgs, ["created_at", "direction", "subject", "body"]))
    return page(cust["name"], body)


def html_claim(conn, cid: int) -> str | None:
    claim = one(conn, CLAIM_SELECT + " WHERE c.id = ?", cid)
    if claim is None:
        return None
    cust = one(conn, "SELECT name FROM customers WHERE id = ?", claim["customer_id"])
    who = (f"<a href=\"/customers/{claim['customer_id']}\">{esc(cust['name'])}</a>" if cust
           else esc(claim["customer_id"]))
    details = f"<tr><th>customer</th><td>{who}</td></tr>" + "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(claim[k])}</td></tr>"
        for k in ("policy_number", "type", "description", "amount_claimed", "amount_approved", "status",
                  "assigned_to", "created_at"))
    notes = many(conn, "SELECT * FROM notes WHERE claim_id = ? ORDER BY id", cid)
    docs = many(conn, "SELECT * FROM documents WHERE claim_id = ? ORDER BY id", cid)
    body = (f"<table>{details}</table><h2>Notes</h2>" + table(notes, ["created_at", "author", "body"])
            + "<h2>Documents</h2>" + table(docs, ["title", "kind", "content"]))
    return page(f"Claim {claim['number']}", body)


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
            if self.command == "GET":
                return self.html(path)
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
            query = parse_query(parse_qs(raw_query, keep_blank_values=True), r.query)
            body = validate_body(self.json_body(), r.body or {}) if write else {}
            if write:
                with WRITE_LOCK:
                    status, payload = self.transact(conn, r, Ctx(conn, staff, params, query, body, ""), path)
                try:  # keep the main file current for readers that copy it
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    pass
            else:
                status, payload = self.transact(conn, r, Ctx(conn, staff, params, query, body, ""), path)
        finally:
            conn.close()
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

    def transact(self, conn: sqlite3.Connection, r: Route, ctx: Ctx, path: str):
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

    def html(self, path: str) -> None:
        conn = connect()
        try:
            if path == "/":
                return self.send(200, html_dashboard(conn), content_type="text/html; charset=utf-8")
            if path == "/customers":
                return self.send(200, html_customers(conn), content_type="text/html; charset=utf-8")
            m = re.fullmatch(r"/(customers|claims)/([^/]+)", path)
            if m:
                kind, raw = m.groups()
                if not raw.isdigit():
                    return self.send(400, page("Bad request", f"<p>{esc(raw)} is not a number.</p>"),
                                     content_type="text/html; charset=utf-8")
                text = (html_customer if kind == "customers" else html_claim)(conn, int(raw))
                if text is None:
                    return self.send(404, page("Not found", f"<p>No {esc(kind[:-1])} {esc(raw)}.</p>"),
                                     content_type="text/html; charset=utf-8")
                return self.send(200, text, content_type="text/html; charset=utf-8")
        finally:
            conn.close()
        raise ApiError(404, f"no page {path}")


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
