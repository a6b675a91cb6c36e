"""The Docker machinery of the container sandboxes: the engine client and who owns which container
(:mod:`.client`), a run's ownership of its workers' containers (:mod:`.ownership`), hardened containers and the
host side of their session (:mod:`.container`), warm pools (:mod:`.pool`), images (:mod:`.images`), the
in-container driver (``driver.py`` and ``driver_procs.py``, sent into each container), and the base class of
container sandboxes (:mod:`.sandbox`).

Nothing here imports the docker SDK at import time.
"""

from lambench.sandboxes.containers.client import (
    LABEL,
    DockerUnavailable,
    claim_ownership,
    get_client,
    owner_labels,
    process_start,
    prune,
    remove_owned,
    run_id,
)
from lambench.sandboxes.containers.container import (
    MAX_OUTPUT,
    Container,
    Driver,
    DriverError,
    ExecOutput,
    Limits,
    SessionError,
)
from lambench.sandboxes.containers.images import (
    BASE_PACKAGES,
    build_images,
    ensure_base_image,
    image_for,
    image_tag,
    prepare_images,
    sandboxes_root,
)
from lambench.sandboxes.containers.ownership import (
    OWNERSHIP_ENV,
    prepare_containers,
    prune_quietly,
    remove_containers,
    restore_env,
)
from lambench.sandboxes.containers.pool import WarmPool, shutdown_pools, warm_pool
from lambench.sandboxes.containers.sandbox import ContainerSandbox

__all__ = ["LABEL", "DockerUnavailable", "claim_ownership", "get_client", "owner_labels", "process_start", "prune",
           "remove_owned", "run_id", "MAX_OUTPUT", "Container", "Driver", "DriverError", "ExecOutput", "Limits",
           "SessionError", "BASE_PACKAGES", "build_images", "ensure_base_image", "image_for", "image_tag",
           "prepare_images", "sandboxes_root", "OWNERSHIP_ENV", "prepare_containers", "prune_quietly",
           "remove_containers", "restore_env", "WarmPool", "shutdown_pools", "warm_pool", "ContainerSandbox"]
