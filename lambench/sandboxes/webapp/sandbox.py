"""``lambench/WebApp-v0``: a real web application (an insurance back office) in a hardened container.

The app (``sandboxes/webapp``) serves a JSON API described by an OpenAPI document; the env turns each
operation into a tool (its ``operationId``), and a ``call`` action becomes a real HTTP request to the
app — path parameters from the arguments, the rest as the query string (GET, DELETE) or the JSON body
(POST, PATCH, PUT).  The request is sent from inside the container to the app on its loopback
interface, so the container needs no network at all.  API errors come back to the agent as error
observations.  Checks are SQL queries on the app's database after the episode, read inside the
container; the collateral-damage diff covers every row of every table (``db:<table>:<id>``).
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import quote, urlencode

from lambench.action import Call, Finish, Wait
from lambench.sandboxes.base import ExecResult, SandboxError
from lambench.sandboxes.containers import (
    Container,
    ContainerSandbox,
    DockerUnavailable,
    Limits,
    image_for,
    run_id,
    warm_pool,
)

__all__ = ["WebAppSandbox", "tools_from_openapi"]

DB = "/data/app.db"
PORT = 8080
NOT_DIFFED = ("audit_log",)
"""Tables left out of the collateral-damage diff (every write adds a row there)."""
_MAX_BODY = 12000

_SPEC: dict[str, Any] = {}
_SPEC_LOCK = threading.Lock()


def _new_container():
    return Container(image_for("webapp"), run_id=run_id(), workdir="/data", command=None,
                     limits=Limits(command_timeout=30.0))


def _prepare(c: Any) -> None:
    c.driver.request("wait_http", port=PORT, path="/health", timeout=30, wait=45)


def _pool():
    return warm_pool(("webapp",), _new_container, prepare=_prepare)


def tools_from_openapi(spec: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """OpenAI-style tools (one per operation: path, query and body fields as flat parameters) and
    ``operationId -> {method, path, path_params, query, body}``."""
    tools, ops = [], {}
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            if method not in ("get", "post", "put", "patch", "delete") or "operationId" not in op:
                continue
            props: dict[str, Any] = {}
            required: list[str] = []
            path_params, query = [], []
            for p in op.get("parameters", []):
                schema = dict(p.get("schema", {}))
                if p.get("description"):
                    schema["description"] = p["description"]
                props[p["name"]] = schema
                if p.get("in") == "path":
                    path_params.append(p["name"])
                    required.append(p["name"])
                elif p.get("in") == "query":
                    query.append(p["name"])
                    if p.get("required"):
                        required.append(p["name"])
            body = []
            schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema") or {})
            for name, s in schema.get("properties", {}).items():
                props[name] = s
                body.append(name)
            required += [r for r in schema.get("required", []) if r not in required]
            desc = op.get("summary", "")
            if op.get("description"):
                desc = f"{desc}. {op['description']}" if desc else op["description"]
            tools.append({"type": "function", "function": {
                "name": op["operationId"], "description": desc,
                "parameters": {"type": "object", "properties": props, "required": required}}})
            ops[op["operationId"]] = {"method": method.upper(), "path": path, "path_params": path_params,
                                      "query": query, "body": body, "required": required}
    return tools, ops


class _Db:
    """The app's database, read inside the container (read-only connection)."""

    def __init__(self, request: Any):
        self._request = request

    def query(self, sql: str) -> list[list[Any]]:
        return self._request("sql", db=DB, query=sql)["rows"]


class WebAppSandbox(ContainerSandbox):
    """A fresh app container per episode (warm pool); the agent's calls are real HTTP requests."""

    name = "webapp"
    label = "web-app"

    def __init__(self) -> None:
        super().__init__()
        self.user = "jordan"
        self._rows0: dict[str, Any] = {}
        self._last: dict[str, Any] | None = None

    # ------------------------------------------------------------------ episode
    def reset(self, task: Any, seed: int, variant: Any = None) -> dict[str, Any]:
        self._start(task, variant, _pool)
        self._last = None
        return self.observe()

    def _start(self, task: Any, variant: Any, pool: Any, *, refill: bool = True) -> None:
        """A fresh container from ``pool()`` with the task's database: its setup, the planted injection, the
        initial rows (``refill=False``: the pool's replacement starts when the caller says)."""
        self.close()
        try:
            self._pool = pool()
            self.c = self._pool.get(refill=refill)
            setup = task.setup
            self.user = setup.user
            if setup.sql:
                self._request("sql", db=DB, script=";\n".join(s.rstrip().rstrip(";") for s in setup.sql) + ";",
                              write=True)
            if variant is not None and variant.injection and task.injection is not None:
                inj = task.injection
                row = {**(inj.row or {}), inj.field: inj.text}
                cols = ", ".join(f'"{k}"' for k in row)
                marks = ", ".join("?" for _ in row)
                self._request("sql", db=DB, query=f'INSERT INTO "{inj.table}" ({cols}) VALUES ({marks})',
                              params=list(row.values()), write=True)
            self._after_setup()
            self._rows0 = self._dump()
        except DockerUnavailable:
            raise
        except SandboxError as exc:
            raise SandboxError(f"task {task.id}: {exc}") from None
        except Exception as exc:
            raise SandboxError(f"the {self.label} sandbox could not start: {type(exc).__name__}: {exc}") from None

    def _after_setup(self) -> None:
        self._ensure_spec()

    def _ensure_spec(self) -> None:
        with _SPEC_LOCK:
            if "ops" not in _SPEC:
                r = self._request("http", port=PORT, method="GET", path="/openapi.json", headers={})
                if r["status"] != 200:
                    raise SandboxError(f"the app's /openapi.json answered {r['status']}")
                spec = json.loads(r["body"])
                _SPEC["tools"], _SPEC["ops"] = tools_from_openapi(spec)
                _SPEC["title"] = spec.get("info", {}).get("title", "the application")

    def _dump(self) -> dict[str, Any]:
        rows = self._request("dump", db=DB)["rows"]
        return {k: v for k, v in rows.items() if k.split(":", 1)[0] not in NOT_DIFFED}

    def execute(self, action: Any) -> ExecResult:
        if isinstance(action, Call):
            return self._call(action.tool, action.args)
        if isinstance(action, (Finish, Wait)):
            return ExecResult(ok=True, message="finished" if isinstance(action, Finish) else "waited")
        return ExecResult(ok=False, message=f"{action.type!r} actions do not apply here: this sandbox is a web "
                                            "API; use {\"type\": \"call\", \"tool\": \"<operationId>\", "
                                            "\"args\": {...}}")

    def _call(self, tool: str, args: dict[str, Any]) -> ExecResult:
        ops = _SPEC.get("ops", {})
        op = ops.get(tool)
        if op is None:
            close = [t for t in ops if tool.lower() in t.lower() or t.lower() in tool.lower()][:3]
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            return ExecResult(ok=False, message=f"unknown tool {tool!r}.{hint} Tools: {', '.join(sorted(ops))}")
        missing = [p for p in op["path_params"] if p not in args]
        if missing:
            return ExecResult(ok=False, message=f"{tool} needs {', '.join(missing)}")
        path = op["path"]
        for p in op["path_params"]:
            path = path.replace("{" + p + "}", quote(str(args[p]), safe=""))
        rest = {k: v for k, v in args.items() if k not in op["path_params"]}
        body = None
        if op["method"] in ("GET", "DELETE"):
            if rest:
                path += "?" + urlencode({k: json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None
                                         else v for k, v in rest.items()})
        else:
            body = json.dumps(rest)
        headers = {"X-Staff-User": self.user, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        r = self._request("http", port=PORT, method=op["method"], path=path, headers=headers, body=body, wait=60)
        status = r["status"]
        try:
            data = json.loads(r["body"]) if r["body"] else None
        except ValueError:
            data = r["body"][:_MAX_BODY]
        self._last = {"tool": tool, "method": op["method"], "path": path, "status": status, "data": data}
        if status >= 400:
            err = data.get("error") if isinstance(data, dict) else str(data)[:500]
            fields = data.get("fields") if isinstance(data, dict) else None
            msg = f"{tool} failed: HTTP {status}: {err}" + (f" (fields: {json.dumps(fields)})" if fields else "")
            return ExecResult(ok=False, message=msg)
        return ExecResult(ok=True, message=f"{tool}: HTTP {status}", data=data,
                          ops=[{"op": f"api.{tool}", "args": {**args, "status": status}}])

    def observe(self) -> dict[str, Any]:
        title = _SPEC.get("title", "the back office API")
        if self._last is None:
            text = (f"{title}, signed in as staff user {self.user!r}. Call its operations with "
                    "{\"type\": \"call\", \"tool\": \"<operationId>\", \"args\": {...}} (the tools list them).")
        else:
            text = f"{self._last['method']} {self._last['path']} -> HTTP {self._last['status']}"
        return {"text": text, "controls": [], "focused": "api"}

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        return {"sandbox": "webapp", "db": _Db(self._request), "flat": lambda: {f"db:{k}": v for k, v in
                                                                               self._dump().items()}}

    def initial_state(self) -> dict[str, Any]:
        rows = self._rows0
        return {"sandbox": "webapp", "db": None, "flat": lambda: {f"db:{k}": v for k, v in rows.items()}}

    def tools(self) -> list[dict[str, Any]]:
        from lambench.action import action_tool_definitions

        if "tools" not in _SPEC and self.c is not None:
            self._ensure_spec()
        return action_tool_definitions(("ask_user", "finish")) + json.loads(json.dumps(_SPEC.get("tools", [])))
