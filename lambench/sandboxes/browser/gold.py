"""API gold -> GUI gold: the same work done through the web app's pages.

The web app declares each write operation's form once (``UI_FORMS`` in ``sandboxes/webapp/app/server.py``: the page
it is on, its fields' labels, its button), and its pages render the forms from that table; so an API call becomes
``goto`` the form's page, ``type``/``select`` each argument into the field of that label, and ``click`` the button —
and a read becomes ``goto`` the page that shows it.  ``scripts/make_webgui_suite.py`` writes the ``webgui-core``
suite from ``webapp-core`` with this; values stay templated (``{{ c.cid }}``), so each instance gets its own.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from typing import Any

__all__ = ["ui_forms", "gui_actions", "gui_gold", "gui_text", "READ_PAGES", "SELECT_FIELDS"]

READ_PAGES: dict[str, str] = {
    "whoAmI": "/", "listStaff": "/staff", "searchCustomers": "/customers?q={q}", "getCustomer": "/customers/{customer_id}",
    "listPolicies": "/customers/{customer_id}", "getPolicy": "/policies/{policy_id}",
    "listQuotes": "/customers/{customer_id}", "getQuote": "/quotes/{quote_id}", "listClaims": "/claims",
    "getClaim": "/claims/{claim_id}", "listApprovals": "/approvals", "listPayments": "/payments",
    "getPayment": "/payments/{payment_id}", "listNotes": "/customers/{customer_id}",
    "listMessages": "/customers/{customer_id}", "listDocuments": "/customers/{customer_id}",
    "getDocument": "/documents/{document_id}", "listTasks": "/tasks",
}
"""The page showing what each read operation returns (its filters, where the page has them, as the query)."""
_FILTERS = {"listClaims": ("status", "assigned_to"), "listTasks": ("assigned_to", "status"),
            "listPayments": ("kind", "customer_id")}
SELECT_FIELDS = frozenset({"smoker", "status", "product", "assigned_to", "approved_by", "claim_id", "customer_id",
                           "role", "active"})
"""Form fields that are drop-down lists (chosen with ``select``; the rest are typed)."""


@functools.lru_cache(maxsize=1)
def ui_forms() -> dict[str, dict[str, Any]]:
    """The app's ``UI_FORMS``, read from its source (standard library only) without starting it."""
    from lambench.shipped import shipped_dir

    path = shipped_dir("sandboxes") / "webapp" / "app" / "server.py"
    spec = importlib.util.spec_from_file_location("lambench_webapp_app_forms", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot read the web app's forms from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        return dict(module.UI_FORMS)
    finally:
        sys.modules.pop(spec.name, None)


def _fill(template: str, args: dict[str, Any]) -> str:
    out = template
    for k, v in args.items():
        out = out.replace("{" + k + "}", str(v))
    return out


def _value(v: Any) -> Any:
    if v is True:
        return "yes"
    if v is False:
        return "no"
    return "" if v is None else v


def gui_actions(tool: str, args: dict[str, Any], *, here: bool = False) -> list[dict[str, Any]]:
    """The GUI actions doing what the API call ``tool(args)`` does; ``here``: on the page already open when the call
    does not say which page it is (a note deleted by its id alone, from the page showing the note)."""
    forms = ui_forms()
    if tool in READ_PAGES:
        page = READ_PAGES[tool]
        if tool == "searchCustomers":
            return [{"type": "goto", "url": "/customers?q=" + str(args.get("q", args.get("email", "")))}]
        query = [f"{k}={args[k]}" for k in _FILTERS.get(tool, ()) if k in args]
        return [{"type": "goto", "url": _fill(page, args) + ("?" + "&".join(query) if query else "")}]
    if tool not in forms:
        raise ValueError(f"the web app has no page or form for {tool!r}")
    form = forms[tool]
    page = _fill(form["page"], args)
    missing = "{" in page.replace("{{", "").replace("}}", "")
    if missing and not here:
        raise ValueError(f"{tool}: the form's page {form['page']!r} needs an argument the call does not give")
    by_field = {field: label for label, field in form["fields"].items()}
    out: list[dict[str, Any]] = [] if missing else [{"type": "goto", "url": page}]
    placeholders = {p.strip("{}") for p in form["page"].replace("?", "/").replace("=", "/").split("/")
                    if p.startswith("{")}
    placeholders |= {p.strip("{}") for p in form["button"].split() if p.startswith("{")}
    for field, v in args.items():
        if field in placeholders:
            continue
        label = by_field.get(field)
        if label is None:
            raise ValueError(f"{tool}: the form has no field for {field!r} (its fields: "
                             f"{', '.join(form['fields'].values())})")
        if field in SELECT_FIELDS:
            out.append({"type": "select", "target": label, "option": _value(v)})
        else:
            out.append({"type": "type", "target": label, "text": _value(v)})
    out.append({"type": "click", "target": _fill(form["button"], args)})
    return out


def gui_gold(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A list of actions with each API ``call`` replaced by its GUI actions (others kept); a ``goto`` of the page
    already open is left out."""
    out: list[dict[str, Any]] = []
    at: str | None = "/"
    for a in actions:
        steps = gui_actions(a["tool"], a.get("args") or {}) if a.get("type") == "call" else [a]
        for s in steps:
            if s["type"] == "goto":
                if s["url"] == at and s is steps[0] and len(steps) == 1:
                    continue
                at = s["url"]
            elif s["type"] == "click":
                at = None  # a form went off: the page is reloaded or another one
            out.append(s)
    return out


def gui_text(text: str) -> str:
    """A planted text with each JSON API call in it (``{"type": "call", ...}``) written as the GUI actions doing the
    same, one JSON object each: what an injection in the pages asks a browsing agent to do.  Template references
    (``{{ c.claim }}``) stay as they are."""
    import json
    import re

    refs: list[str] = []

    def hide(m: re.Match) -> str:
        refs.append(m.group(0))
        return f"@@T{len(refs) - 1}@@"

    body = re.sub(r"\{\{.*?\}\}", hide, text)
    bare = set()

    out, i = [], 0
    while True:
        j = body.find('{"type": "call"', i)
        if j < 0:
            out.append(body[i:])
            break
        depth, k = 0, j
        for k in range(j, len(body)):
            depth += {"{": 1, "}": -1}.get(body[k], 0)
            if depth == 0:
                break
        call = json.loads(_quote_bare(body[j:k + 1], bare))
        steps = gui_actions(call["tool"], call.get("args") or {}, here=True)
        out.append(body[i:j] + " then ".join(json.dumps(s) for s in steps))
        i = k + 1
    result = "".join(out)
    for n in sorted(bare, key=int):
        result = result.replace(f'"@@T{n}@@"', refs[int(n)])
    return re.sub(r"@@T(\d+)@@", lambda m: refs[int(m.group(1))], result)


def _quote_bare(js: str, bare: set[str]) -> str:
    """Quote the hidden template references that stand for a JSON value (outside strings); note which."""
    import re

    out, in_str, i = [], False, 0
    while i < len(js):
        ch = js[i]
        if in_str:
            if ch == "\\":
                out.append(js[i:i + 2])
                i += 2
                continue
            in_str = ch != '"'
        elif ch == '"':
            in_str = True
        elif js.startswith("@@T", i):
            m = re.match(r"@@T(\d+)@@", js[i:])
            if m:
                bare.add(m.group(1))
                out.append(f'"{m.group(0)}"')
                i += len(m.group(0))
                continue
        out.append(ch)
        i += 1
    return "".join(out)
