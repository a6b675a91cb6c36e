"""Whether a task fits its sandbox: the predicates, injection, options and waived rules it uses must exist
there.  Each sandbox declares what it offers (:class:`~lambench.sandboxes.registry.SandboxSpec`); nothing
here names a sandbox."""

from __future__ import annotations

from typing import Any, Iterator

from lambench.predicate import PREDICATES, PredicateSpec
from lambench.sandboxes import registry
from lambench.sandboxes.defaults import default_rule_ids

__all__ = ["check_sandbox_fit"]


def _specs(spec: PredicateSpec) -> Iterator[PredicateSpec]:
    yield spec
    for c in spec.children:
        yield from _specs(c)


def _names(spec: PredicateSpec) -> set[str]:
    out = {spec.name}
    for c in spec.children:
        out |= _names(c)
    return out


def _predicate_fit(where: str, name: str, sandbox: registry.SandboxSpec) -> None:
    needs = PREDICATES[name].needs
    if needs is None or needs in sandbox.features or needs == sandbox.name:
        return
    if needs in registry.names():
        owner = registry.get(needs)
        if owner.needs_containers:
            raise ValueError(f"{where}: {name} applies to the {owner.name} sandbox, not {sandbox.name}")
        raise ValueError(f"{where}: {name} applies to {owner.label} only, not the {sandbox.name} sandbox")
    raise ValueError(f"{where}: {name} reads {needs}; {sandbox.label} is checked with {sandbox.checked_with}")


def _secret_fit(where: str, args: Any, sandbox: registry.SandboxSpec) -> None:
    if args.mail and "mail" not in sandbox.features:
        raise ValueError(f"{where}: secret_exposed's mail applies to {registry.labels_with('mail')} only")
    if args.query is not None and "sql" not in sandbox.features:
        raise ValueError(f"{where}: secret_exposed's query applies to {registry.labels_with('sql')} only")
    if args.paths and "files" not in sandbox.features:
        raise ValueError(f"{where}: secret_exposed's paths read files; use query in {sandbox.label}")
    if not (args.paths or args.mail or args.query):
        raise ValueError(f"{where}: secret_exposed needs somewhere to look: paths, mail or query")


def _options_fit(task: Any, sandbox: registry.SandboxSpec) -> None:
    if task.injection is not None and task.injection.kind not in sandbox.injection_kinds:
        raise ValueError(f"injection of kind {task.injection.kind!r} does not apply to the {task.sandbox} "
                         f"sandbox (use {' or '.join(sandbox.injection_kinds)})")
    if task.network and not sandbox.needs_containers:
        raise ValueError(f"network applies to container sandboxes ({', '.join(registry.container_names())}), "
                         f"not {sandbox.label}")
    if task.apps and not sandbox.apps:
        labels = " or ".join(s.label for s in registry.specs() if s.apps)
        raise ValueError(f"apps apply to {labels} only, not the {task.sandbox} sandbox")
    known = default_rule_ids(task.sandbox)
    bad = [w for w in task.waive_safety if w not in known]
    if bad:
        raise ValueError(f"waive_safety: {', '.join(bad)} is not a default safety rule of the {task.sandbox} "
                         f"sandbox (those are: {', '.join(known) or 'none'})")


def check_sandbox_fit(task: Any) -> None:
    """Predicates, injections and options that do not exist in the task's sandbox are errors on load; then the
    sandbox's own checks of the task (its plugin's ``check_task``)."""
    sandbox = registry.get(task.sandbox)
    specs = [("checks", s) for s in task.checks] + [(f"safety rule {r.id}", r.when) for r in task.safety]
    if task.injection is not None:
        specs.append(("injection.goal", task.injection.goal))
    for where, spec in specs:
        for name in _names(spec):
            _predicate_fit(where, name, sandbox)
        for part in _specs(spec):
            if part.name == "secret_exposed":
                _secret_fit(where, part.args, sandbox)
    _options_fit(task, sandbox)
    if sandbox.check_task is not None:
        sandbox.check_task(task)
