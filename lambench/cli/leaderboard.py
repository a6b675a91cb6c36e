"""``lambench leaderboard``: the committed leaderboard under leaderboards/ (add a run, render it)."""

from __future__ import annotations

import click


@click.group("leaderboard")
def leaderboard_group() -> None:
    """The committed leaderboard under leaderboards/."""


@leaderboard_group.command("build")
@click.option("--root", default="leaderboards", show_default=True, type=click.Path(file_okay=False))
def leaderboard_build(root: str) -> None:
    """Render ROOT/README.md and its figures from ROOT/<suite>/*.summary.json."""
    from lambench.leaderboard import build_leaderboard

    click.echo(str(build_leaderboard(root)))


@leaderboard_group.command("add")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--root", default="leaderboards", show_default=True, type=click.Path(file_okay=False))
def leaderboard_add(run_dir: str, root: str) -> None:
    """Store RUN_DIR's summary as ROOT/<suite>/<agent>.summary.json (then run `leaderboard build`)."""
    from lambench.leaderboard import add_entry

    click.echo(str(add_entry(run_dir, root)))
