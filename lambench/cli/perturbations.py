"""``lambench perturbations list``: the perturbations ``--perturb`` can apply."""

from __future__ import annotations

import json

import click


@click.group("perturbations")
def perturbations_group() -> None:
    """The perturbations `--perturb` can apply."""


@perturbations_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def perturbations_list(as_json: bool) -> None:
    """List perturbations with the sandboxes that support them."""
    from rich.console import Console
    from rich.table import Table

    from lambench.perturb import PERTURBATIONS

    rows = [{"name": p.name, "sandboxes": list(p.sandboxes), "extra_steps": p.extra_steps,
             "description": p.description} for p in PERTURBATIONS.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="perturbations (use with lambench run --perturb NAME[,NAME]; '+' combines)")
    for col in ("name", "sandboxes", "extra steps", "what it does"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], ", ".join(r["sandboxes"]), str(r["extra_steps"]), r["description"])
    Console(width=160).print(table)
