"""Where a run's episodes run: in this process, in a pool of local worker processes, or on Ray actors.

One :class:`~lambench.executors.dispatch.Dispatcher` owns chunking, retries and finding the episode that kills its
worker; the executors (:mod:`.inline`, :mod:`.local`, :mod:`.ray`) only run chunks and report how each ended
(:mod:`.base`).  :func:`execute` is what live runs and offline replay call.  Ray is imported only when used.
"""

from lambench.executors.base import DEAD_WORKER, Executor, Failed, Finished, Lost
from lambench.executors.dispatch import CHUNK_SECONDS, Dispatcher, Interrupted, chunk_size, execute, run_ray
from lambench.executors.local import LocalPool, can_fork, close_pool, open_pool, start_pool_server
from lambench.executors.ray import RAY_INSTALL_HINT, ExecutorError, connect_ray, release_actors

__all__ = ["execute", "Dispatcher", "Interrupted", "chunk_size", "CHUNK_SECONDS", "Executor", "Finished", "Failed",
           "Lost", "DEAD_WORKER", "LocalPool", "open_pool", "close_pool", "can_fork", "start_pool_server",
           "ExecutorError", "connect_ray", "run_ray", "release_actors", "RAY_INSTALL_HINT"]
