"""The held-out split of a trajectory dataset: by template, never by instance.

Instances of one template (``t@0``, ``t@1``, ...) share their wording, apps and the shape of their gold, so a
model trained on ``t@0`` and tested on ``t@3`` is tested on what it has seen.  Each template (a fixed task is a
template of one) therefore falls wholly into ``train`` or ``test``, decided by a hash of its id: the same on
every machine, stable when other tasks are added or removed, and about :data:`TEST_SHARE` of templates in
``test``.  ``lambench record`` writes the split into each step's ``meta``; ``lambench export sft --split train``
keeps only the templates the test split never shows.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lambench.task.instances import split_id

__all__ = ["SPLITS", "TEST_SHARE", "split_of", "step_split", "template_of"]

SPLITS = ("train", "test")
TEST_SHARE = 0.2
"""The share of templates held out for testing."""


def template_of(task_id: str) -> str:
    """The template a task id belongs to (``t@3`` -> ``t``; a fixed task's id is its own)."""
    return split_id(task_id)[0]


def split_of(task_id: str) -> str:
    """``test`` or ``train`` for a task id, by its template."""
    digest = hashlib.sha256(template_of(task_id).encode("utf-8")).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < TEST_SHARE else "train"


def step_split(step: dict[str, Any]) -> str:
    """The split of a dataset step: the one recorded in its ``meta``, else derived from its task id (datasets
    recorded before splits existed, and imported ones)."""
    recorded = (step.get("meta") or {}).get("split")
    return recorded if recorded in SPLITS else split_of(str(step.get("task_id", "")))
