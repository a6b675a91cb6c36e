"""``lambench sandboxes``: build the container sandboxes' images, remove leftover containers."""

from __future__ import annotations

import click

from lambench.cli.common import UsageProblem, err_console, say


@click.group("sandboxes")
def sandboxes_group() -> None:
    """Container sandboxes: build their images, remove leftover containers."""


@sandboxes_group.command("build")
@click.option("--root", default=None, type=click.Path(file_okay=False, exists=True),
              help="Folder of build contexts (one subfolder with a Dockerfile per image); default: the ones lambench "
                   "ships ($LAMBENCH_SANDBOXES overrides them).")
@click.option("--base-image", default=None,
              help="Base image for every Dockerfile (ARG BASE_IMAGE); default: debian:bookworm-slim if it can be "
                   "pulled, else a Debian base made here with debootstrap.")
@click.option("--no-pull", is_flag=True, help="Do not try a registry: make the base with debootstrap.")
@click.argument("names", nargs=-1)
def sandboxes_build(root: str | None, base_image: str | None, no_pull: bool, names: tuple[str, ...]) -> None:
    """Build the sandbox images (only those whose build context changed)."""
    from lambench.sandboxes.containers import DockerUnavailable, build_images, ensure_base_image, get_client

    def log(msg: str) -> None:
        err_console.print(msg, highlight=False, markup=False)

    try:
        client = get_client()
        base = base_image or ensure_base_image(client, log=log, allow_pull=not no_pull)
        built = build_images(root, client=client, base_image=base, log=log, names=list(names) or None)
        client.close()
    except DockerUnavailable:
        raise
    except Exception as exc:  # a failing Dockerfile: the engine's message is the useful part
        raise UsageProblem(f"building the sandbox images failed: {type(exc).__name__}: {exc}") from None
    for name, tag in built.items():
        click.echo(f"{name}\t{tag}")


@sandboxes_group.command("prune")
def sandboxes_prune() -> None:
    """Remove lambench containers whose owning process is dead (no other container is touched)."""
    from lambench.sandboxes.containers import prune

    removed = prune()
    say(f"removed {len(removed)} orphaned container(s)" + (f": {', '.join(removed)}" if removed else ""))
