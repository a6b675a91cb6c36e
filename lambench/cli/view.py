"""``lambench view``: run directories written as a self-contained static site (the trajectory viewer)."""

from __future__ import annotations

import click


@click.command("view")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out", default="lambench-view", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the site (new, empty, or a site written before, which is replaced).")
@click.option("--title", default="lambench episodes", show_default=True, help="The site's title.")
def view_cmd(run_dirs: tuple[str, ...], out: str, title: str) -> None:
    """Write the episodes of run directories as a static site: open OUT/index.html in a browser (no server needed).

    A directory holding several runs (``lambench run --agent A --agent B --out DIR``) stands for all of them.
    """
    from lambench.view import build_view

    index = build_view(run_dirs, out, title=title)  # its errors are LambenchErrors: the group prints them, exit 2
    click.echo(str(index))
