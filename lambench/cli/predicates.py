"""``lambench predicates``: every predicate a task may use, with its arguments (from the registry)."""

from __future__ import annotations

import json

import click


@click.command("predicates")
@click.option("--sandbox", default=None, metavar="NAME", help="Only the predicates a task of this sandbox may use.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: name, kind, sandboxes, doc and arguments.")
def predicates_cmd(sandbox: str | None, as_json: bool) -> None:
    """List the predicates of task checks and safety rules, with their arguments and the sandboxes they fit."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lambench.sandboxes import registry

    rows = registry.predicate_rows(sandbox)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title="predicates (write {name: {args}} in checks, safety rules and injection goals)")
    for col in ("name", "kind", "sandboxes", "arguments", "what it checks"):
        table.add_column(col, overflow="fold")
    for r in rows:
        args = "\n".join(a["name"] + ": " + a["type"] + ("" if a["required"] else f" = {a['default']!r}")
                         for a in r["args"])
        summary = " ".join(r["doc"].split("\n\n")[0].split())  # the docstring's first paragraph, on one line
        table.add_row(r["name"], r["kind"], ", ".join(r["sandboxes"]), escape(args) or "-", escape(summary))
    Console(width=200).print(table)
