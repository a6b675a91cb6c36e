"""A template file's instances: the task data of each seed of the default sweep, before validation.

A task file with ``params`` is a *template* (see :mod:`lambench.task.params`); it may say how many instances the
default seed sweep runs (``instances: N``, default :data:`DEFAULT_INSTANCES`). Instance ``s`` has the id
``<template id>@<s>`` and is an ordinary task: it loads, runs, scores and resumes like a fixed one, and its
record keeps the template, the seed and the sampled values (``instance``). A fixed task (no ``params``) is its
own single instance, unchanged.
"""

from __future__ import annotations

from typing import Any

from lambench.task.params import ParamError, instantiate, is_template

__all__ = ["DEFAULT_INSTANCES", "MAX_INSTANCES", "TEMPLATE_KEYS", "instance_id", "split_id", "sweep_seeds",
           "instance_data"]

DEFAULT_INSTANCES = 5
"""Instances per template in the default seed sweep."""
MAX_INSTANCES = 50
TEMPLATE_KEYS = ("params", "instances", "params_seed")
"""Keys only a template has; an instance's data drops them."""


def instance_id(template_id: str, seed: int) -> str:
    return f"{template_id}@{seed}"


def split_id(task_id: str) -> tuple[str, int | None]:
    """``("files-archive", 3)`` for ``files-archive@3``; ``(task_id, None)`` for a fixed task's id."""
    head, sep, tail = task_id.rpartition("@")
    return (head, int(tail)) if sep and tail.isdigit() else (task_id, None)


def sweep_seeds(raw: dict[str, Any]) -> list[int]:
    """The instance seeds of a template's default sweep: ``0 .. instances-1``."""
    n = raw.get("instances", DEFAULT_INSTANCES)
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_INSTANCES:
        raise ParamError(f"instances: the number of instances of the default sweep is an integer from 2 to "
                         f"{MAX_INSTANCES}, not {n!r}")
    return list(range(n))


def instance_data(raw: dict[str, Any], seed: int) -> dict[str, Any]:
    """The task data of one instance of a template (any seed, not only the sweep's), ready for validation."""
    if not is_template(raw):
        raise ParamError("not a template: it declares no params")
    if "instance" in raw:
        raise ParamError("instance: is set by the loader on each instance; a task file does not write it")
    key = raw.get("params_seed")
    if key is not None and (not isinstance(key, str) or not key):
        raise ParamError(f"params_seed: the name seeding the parameters' draws is a string (another template's id), "
                         f"not {key!r}")
    data = instantiate({k: v for k, v in raw.items() if k not in TEMPLATE_KEYS or k == "params"}, seed, key=key)
    data["id"] = instance_id(str(raw.get("id", "")), seed)
    return data
