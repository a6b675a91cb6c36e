"""Nothing an agent sees gives a task's feasibility away.

An agent sees ``Task.view()``: id, suite, sandbox, instruction, max_steps, apps (and the tool
definitions).  If an infeasible task's id said "missing" or "inf", an agent could answer
``finish(infeasible)`` from the id alone and score infeasible detection without looking.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from lambench.task import TaskView, list_suites, load_suite

GIVEAWAYS = {
    "inf", "infeasible", "feasible", "impossible", "missing", "unknown", "nonexistent", "absent", "no", "not",
    "none", "cannot", "cant", "fake", "invalid", "unsupported", "refuse", "refused", "declined", "rejected",
    "lapsed", "expired", "minor", "over", "gone", "deleted", "denied", "forbidden", "unavailable",
}
"""Words in an id that tell what is wrong with the request (whatever the world says)."""


def _tokens(task_id: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", task_id.lower()) if t]


def _suites():
    return [(s, load_suite(s)) for s in list_suites()]


def test_no_infeasible_task_id_holds_a_giveaway_word():
    offenders = [f"{s}/{t.id}: {sorted(set(_tokens(t.id)) & GIVEAWAYS)}" for s, tasks in _suites()
                 for t in tasks if t.infeasible and set(_tokens(t.id)) & GIVEAWAYS]
    assert not offenders, "rename these infeasible tasks to neutral ids: " + "; ".join(offenders)


def test_no_id_word_is_used_only_by_infeasible_tasks():
    """A word shared by several infeasible ids and by no feasible id of the suite (e.g. a prefix
    such as ``sh-inf-``) marks feasibility as surely as "missing" does — unless it only repeats
    the request (the instruction says it anyway)."""
    offenders = []
    for suite, tasks in _suites():
        feasible_words = {w for t in tasks if not t.infeasible for w in _tokens(t.id)}
        users: dict[str, list[str]] = defaultdict(list)
        for t in tasks:
            if t.infeasible:
                said = set(_tokens(t.instruction))
                for w in set(_tokens(t.id)) - feasible_words - said:
                    users[w].append(t.id)
        offenders += [f"{suite}: {w!r} only in infeasible ids {ids}" for w, ids in users.items() if len(ids) > 1]
    assert not offenders, "; ".join(offenders)


def test_the_view_an_agent_gets_has_no_feasibility_and_no_tags():
    fields = set(TaskView.model_fields)
    assert not {"infeasible", "feasible", "tags", "checks", "gold", "safety"} & fields
    suites = dict(_suites())
    task = next(t for t in suites["mockos-core"] if t.infeasible)
    dumped = task.view().model_dump()
    assert "infeasible" not in dumped and "infeasible" not in str(dumped).lower()


@pytest.mark.parametrize("word", ["missing", "inf"])
def test_the_giveaway_check_catches_a_giveaway(word):
    assert set(_tokens(f"cal-cancel-{word}-dinner")) & GIVEAWAYS
