"""A run's ownership of its containers: the run process owns every container its workers start (through
environment variables they inherit), prunes what killed runs left behind, and removes its own at the end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lambench.sandboxes.containers.client import claim_ownership, get_client, prune, remove_owned
from lambench.sandboxes.containers.images import prepare_images
from lambench.sandboxes.containers.pool import shutdown_pools

__all__ = ["OWNERSHIP_ENV", "prepare_containers", "restore_env", "prune_quietly", "remove_containers"]

OWNERSHIP_ENV = ("LAMBENCH_OWNER_PID", "LAMBENCH_OWNER_START", "LAMBENCH_RUN_ID")
"""The environment variables through which a run owns its workers' containers (save them before
:func:`prepare_containers`, give them back with :func:`restore_env`)."""


def prepare_containers(sandboxes: list[str], run_dir: Path) -> None:
    """Own the containers the run's workers start, prune killed runs' orphans, build missing images."""
    claim_ownership()
    os.environ["LAMBENCH_RUN_ID"] = run_dir.name
    prepare_images(sandboxes, log=lambda m: print(f"lambench: {m}", file=sys.stderr))


def restore_env(saved: dict[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def prune_quietly() -> None:
    if not (os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock")):
        return
    try:
        import docker  # noqa: F401  (the optional extra)

        client = get_client(timeout=10)
        try:
            gone = prune(client)
        finally:
            client.close()
        if gone:
            print(f"lambench: removed {len(gone)} container(s)/network(s) left by killed runs", file=sys.stderr)
    except Exception:  # no engine, no permission: nothing of ours can be there to remove
        pass


def remove_containers(run_dir: Path) -> None:
    try:
        shutdown_pools()  # this process's own (the in-process executor's warm pools)
        remove_owned(run_dir.name)  # and those of worker processes that were killed
    except Exception as exc:  # the engine went away: the next run's prune removes them
        print(f"lambench: could not remove this run's containers ({exc}); `lambench sandboxes prune` will",
              file=sys.stderr)
