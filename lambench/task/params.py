"""Task templates: typed parameters sampled per seed, used by reference anywhere in a task file.

A template declares ``params`` (name -> generator) and writes ``{{ name }}`` or ``{{ name.attr }}`` (optionally
``{{ name | filter }}``) in its instruction, setup, checks, safety rules and gold — in values and in mapping keys
(a setup's file paths). :func:`instantiate` turns a template and a seed into a plain task (no ``params`` left),
deterministically: the same (template id, seed) always gives the same instance, on every machine::

    params:
      who: {type: person}
      amount: {type: amount, min: 200, max: 900, step: 50}
      day: {type: date, start: 2026-11-23, end: 2026-12-18, weekdays: true}
    instruction: Refund {{ amount | money }} EUR to {{ who.name }} on {{ day.long }}.

A string that is exactly one reference keeps the value's type (``{{ amount }}`` stays a number). References to
an unknown parameter or attribute, unknown filters and parameters no field uses are errors naming them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from lambench.task.people import PEOPLE

__all__ = ["ParamError", "Value", "GENERATORS", "FILTERS", "sample", "instantiate", "is_template"]


class ParamError(ValueError):
    """A template whose parameters do not sample or whose references do not resolve; says which and why."""


@dataclass(frozen=True)
class Value:
    """A sampled parameter: what ``{{ name }}`` gives, and the attributes ``{{ name.attr }}`` can read."""

    value: Any
    attrs: dict[str, Any] = field(default_factory=dict)

    def get(self, attr: str | None) -> Any:
        if attr is None:
            return self.value
        if attr not in self.attrs:
            raise KeyError(attr)
        return self.attrs[attr]


# ------------------------------------------------------------------------------------------------ generators

def _choice(rng: random.Random, spec: dict[str, Any]) -> Value:
    values = spec.get("values")
    if not isinstance(values, list) or not values:
        raise ParamError("a choice needs `values`: a non-empty list")
    picked = rng.choice(values)
    # YAML reads a key such as `on:` or `no:` as a boolean: such an attribute is named `true`/`false`
    return Value(picked, {_key_text(k): v for k, v in picked.items()} if isinstance(picked, dict) else {})


def _key_text(key: Any) -> str:
    return str(key).lower() if isinstance(key, bool) else str(key)


def _int(rng: random.Random, spec: dict[str, Any]) -> Value:
    lo, hi, step = int(spec.get("min", 0)), int(spec.get("max", 9)), int(spec.get("step", 1))
    if hi < lo or step < 1:
        raise ParamError(f"an int needs min <= max and step >= 1 (got min={lo}, max={hi}, step={step})")
    return Value(rng.randrange(lo, hi + 1, step))


def _amount(rng: random.Random, spec: dict[str, Any]) -> Value:
    lo, hi, step = float(spec.get("min", 10)), float(spec.get("max", 1000)), float(spec.get("step", 10))
    if hi < lo or step <= 0:
        raise ParamError(f"an amount needs min <= max and step > 0 (got min={lo}, max={hi}, step={step})")
    n = int((hi - lo) // step)
    value = round(lo + step * rng.randint(0, n), 2)
    return Value(int(value) if value == int(value) and step == int(step) else value,
                 {"money": f"{value:,.2f}", "plain": f"{value:.2f}"})


def _date(rng: random.Random, spec: dict[str, Any]) -> Value:
    try:
        start = dt.date.fromisoformat(str(spec.get("start", "2026-11-23")))
        end = dt.date.fromisoformat(str(spec.get("end", "2026-12-18")))
    except ValueError as exc:
        raise ParamError(f"a date's start and end are YYYY-MM-DD ({exc})") from None
    days = [start + dt.timedelta(d) for d in range((end - start).days + 1)]
    if spec.get("weekdays"):
        days = [d for d in days if d.weekday() < 5]
    if not days:
        raise ParamError(f"no date between {start} and {end}" + (" on a weekday" if spec.get("weekdays") else ""))
    day = rng.choice(days)
    return Value(day.isoformat(), {"iso": day.isoformat(), "day": day.day, "month": calendar.month_name[day.month],
                                   "weekday": calendar.day_name[day.weekday()],
                                   "long": f"{calendar.day_name[day.weekday()]} {day.day} "
                                           f"{calendar.month_name[day.month]} {day.year}",
                                   "short": f"{day.day} {calendar.month_abbr[day.month]}"})


def _time(rng: random.Random, spec: dict[str, Any]) -> Value:
    def minutes(text: Any) -> int:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(text))
        if not m:
            raise ParamError(f"a time is HH:MM, not {text!r}")
        return int(m[1]) * 60 + int(m[2])

    lo, hi, step = minutes(spec.get("start", "09:00")), minutes(spec.get("end", "17:00")), int(spec.get("step", 30))
    length = int(spec.get("length", 60))
    if hi < lo or step < 1:
        raise ParamError("a time needs start <= end and step >= 1")
    t = rng.randrange(lo, hi + 1, step)
    hhmm = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    return Value(hhmm(t), {"hhmm": hhmm(t), "end": hhmm(min(t + length, 24 * 60 - 1)), "hour": t // 60})


def _person(rng: random.Random, spec: dict[str, Any]) -> Value:
    first, last = rng.choice(PEOPLE)
    domain = str(spec.get("domain", "acme.example"))
    user = re.sub(r"[^a-z]", "", first.lower())
    email = f"{user}.{re.sub(r'[^a-z]', '', last.lower())}@{domain}"
    return Value(f"{first} {last}", {"name": f"{first} {last}", "first": first, "last": last, "email": email,
                                     "username": user})


def _code(rng: random.Random, spec: dict[str, Any]) -> Value:
    pattern = str(spec.get("pattern", "####"))
    if "#" not in pattern and "@" not in pattern:
        raise ParamError(f"a code's pattern needs # (a digit) or @ (a letter): {pattern!r}")
    out = "".join(str(rng.randrange(10)) if c == "#" else rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") if c == "@" else c
                  for c in pattern)
    return Value(out)


def _filename(rng: random.Random, spec: dict[str, Any]) -> Value:
    stems = spec.get("stems") or ["report"]
    if not isinstance(stems, list):
        raise ParamError("a filename's `stems` is a list of words")
    digits = int(spec.get("digits", 4))
    stem = f"{rng.choice(stems)}-{rng.randrange(10 ** digits):0{digits}d}" if digits else str(rng.choice(stems))
    ext = str(spec.get("ext", "txt"))
    name = f"{stem}.{ext}" if ext else stem
    return Value(name, {"name": name, "stem": stem, "ext": ext})


GENERATORS: dict[str, Callable[[random.Random, dict[str, Any]], Value]] = {
    "choice": _choice, "int": _int, "amount": _amount, "date": _date, "time": _time, "person": _person,
    "code": _code, "filename": _filename}
"""Parameter types: ``type:`` in a template's ``params``; the other keys of a parameter configure its type."""

FILTERS: dict[str, Callable[[Any], Any]] = {
    "upper": lambda v: str(v).upper(), "lower": lambda v: str(v).lower(), "title": lambda v: str(v).title(),
    "money": lambda v: f"{float(v):,.2f}", "slug": lambda v: re.sub(r"[^a-z0-9]+", "-", str(v).lower()).strip("-"),
    "text": str}
"""What ``{{ name | filter }}`` may apply."""

_COMMON = {"type", "distinct_from"}
_REF = re.compile(r"\{\{\s*([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?\s*(?:\|\s*([A-Za-z_]\w*)\s*)?\}\}")


def is_template(data: Any) -> bool:
    """Whether a task file's data declares parameters."""
    return isinstance(data, dict) and bool(data.get("params"))


def sample(params: dict[str, Any], template_id: str, seed: int) -> dict[str, Value]:
    """Sample every parameter, in declaration order, from a generator seeded by (template id, seed)."""
    if not isinstance(params, dict):
        raise ParamError("`params` maps each parameter's name to its type and options")
    rng = random.Random(f"lambench-template:{template_id}:{seed}")
    out: dict[str, Value] = {}
    for name, spec in params.items():
        spec = {"type": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict) or spec.get("type") not in GENERATORS:
            got = spec.get("type") if isinstance(spec, dict) else spec
            raise ParamError(f"params.{name}: unknown type {got!r}; types: {', '.join(GENERATORS)}")
        avoid = spec.get("distinct_from") or []
        avoid = [avoid] if isinstance(avoid, str) else avoid
        unknown = [a for a in avoid if a not in out]
        if unknown:
            raise ParamError(f"params.{name}: distinct_from names {unknown}, which are not declared before it")
        options = {k: v for k, v in spec.items() if k not in _COMMON}
        for _ in range(200):
            try:
                value = GENERATORS[spec["type"]](rng, options)
            except ParamError as exc:
                raise ParamError(f"params.{name}: {exc}") from None
            if all(value.value != out[a].value for a in avoid):
                break
        else:
            raise ParamError(f"params.{name}: could not sample a value distinct from {avoid} (too few values?)")
        out[name] = value
    return out


def _render(text: str, values: dict[str, Value], used: set[str], where: str) -> Any:
    def resolve(m: re.Match) -> Any:
        name, attr, filt = m.group(1), m.group(2), m.group(3)
        if name not in values:
            names = [str(n) for n in values]  # YAML reads a parameter named on/off/yes/no as a boolean
            hint = (" (YAML reads names such as on, off, yes and no as true/false: quote the name, e.g. 'off':)"
                    if any(isinstance(n, bool) for n in values) else "")
            raise ParamError(f"{where}: {{{{ {name} }}}} names no parameter; parameters: {', '.join(names) or 'none'}"
                             + hint)
        used.add(name)
        try:
            value = values[name].get(attr)
        except KeyError:
            attrs = [str(a) for a in values[name].attrs]  # YAML may have made keys booleans or numbers
            known = ", ".join(attrs) or "none"
            hint = (" (YAML reads keys such as on, off, yes and no as true/false: quote them, e.g. 'on':)"
                    if {"true", "false", "True", "False"} & set(attrs) else "")
            raise ParamError(f"{where}: parameter {name} has no attribute {attr!r}; its attributes: {known}{hint}"
                             ) from None
        if filt is not None:
            if filt not in FILTERS:
                raise ParamError(f"{where}: unknown filter {filt!r}; filters: {', '.join(FILTERS)}")
            value = FILTERS[filt](value)
        return value

    whole = _REF.fullmatch(text.strip())
    if whole:
        return resolve(whole)
    out = _REF.sub(lambda m: str(resolve(m)), text)
    if "{{" in out:
        raise ParamError(f"{where}: {text!r} has a malformed reference (write {{{{ name }}}}, {{{{ name.attr }}}} "
                         "or {{ name | filter }})")
    return out


def _walk(node: Any, values: dict[str, Value], used: set[str], where: str) -> Any:
    if isinstance(node, str):
        return _render(node, values, used, where) if "{{" in node else node
    if isinstance(node, list):
        return [_walk(x, values, used, f"{where}[{i}]") for i, x in enumerate(node)]
    if isinstance(node, dict):
        out = {}
        for key, val in node.items():
            new_key = _walk(key, values, used, f"{where}.{key}") if isinstance(key, str) else key
            out[str(new_key) if not isinstance(new_key, (str, int, float, bool)) else new_key] = \
                _walk(val, values, used, f"{where}.{key}")
        return out
    return node


def instantiate(data: dict[str, Any], seed: int, *, key: str | None = None) -> dict[str, Any]:
    """The task a template gives for ``seed``: every reference replaced, ``params`` dropped, and the sampled
    values kept under ``instance`` (template id, seed, parameter values) for the record.  ``key`` (a template's
    ``params_seed``) seeds the draws in place of the template's id: a template derived from another (the browser
    suite's from the web app's) draws the same instances as its source."""
    if not is_template(data):
        return data
    template_id = str(data.get("id", ""))
    values = sample(data["params"], key or template_id, seed)
    used: set[str] = set()
    body = {k: v for k, v in data.items() if k not in ("params", "id")}
    out = _walk(body, values, used, "")
    unused = [n for n in values if n not in used]
    if unused:
        raise ParamError(f"params {', '.join(unused)} are declared but never used: a parameter must reach what the "
                         "agent reads or does (the instruction, setup or gold)")
    return {"id": template_id, **out,
            "instance": {"template": template_id, "seed": seed,
                         "values": {n: v.value for n, v in values.items()}}}
