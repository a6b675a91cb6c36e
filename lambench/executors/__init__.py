"""Where a run's episodes run: in this process, in a pool of local worker processes, or on Ray actors."""

from lambench.executors.local import can_fork, close_pool, execute, open_pool, start_pool_server
from lambench.executors.ray import (CHUNK_SECONDS, RAY_INSTALL_HINT, ExecutorError, chunk_size, connect_ray,
                                    release_actors, run_ray)

__all__ = ["execute", "open_pool", "close_pool", "can_fork", "start_pool_server", "ExecutorError", "connect_ray",
           "run_ray", "release_actors", "chunk_size", "CHUNK_SECONDS", "RAY_INSTALL_HINT"]
