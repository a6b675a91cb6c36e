"""A run's configuration (what ``lambench run`` flags turn into) and its plan: the episodes it consists of."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lambench.errors import LambenchError
from lambench.perturb import parse_variants
from lambench.run.rundir import RunDirError
from lambench.task import Task, TaskError, load_suite
from lambench.task.instances import split_id
from lambench.task.loader import instance_of

__all__ = ["ConfigError", "Job", "RunConfig", "config_diffs", "default_run_dir", "plan_jobs", "redacted",
           "select_tasks"]


class ConfigError(LambenchError, ValueError):
    """A run configuration that cannot work (named with the fix)."""


class RunConfig(BaseModel):
    """Everything that defines a run (what ``lambench run`` flags turn into)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suite: str
    agent: str
    task_ids: list[str] = Field(default_factory=list)
    """Run only these tasks (all of the suite when empty)."""
    trials: int = Field(default=1, ge=1, le=1000)
    seed: int = 0
    """Base seed; trial ``t`` uses seed ``seed + t``."""
    workers: int = Field(default=1, ge=1, le=256)
    step_timeout: float | None = Field(default=60.0, gt=0)
    """Seconds an agent may take for one action (None: no limit)."""
    episode_timeout: float | None = Field(default=600.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    """How often an episode that hit an infrastructure error is retried."""
    perturb: list[str] = Field(default_factory=list)
    """Perturbed variants to run besides clean, e.g. ``["popup", "layout-shuffle+relabel"]``."""
    guard: bool = False
    """Block actions that break a safety rule before they take effect (counted as attempted)."""
    observation: Literal["text", "screenshot", "both", "som"] = "text"
    """What the agent sees: the accessibility tree (``text``), the screen's image (``screenshot``), both, or both
    with each control's label drawn on the image (``som``); the image modes need a sandbox with a screen."""
    observations: bool = True
    """Keep what the agent saw at each step in ``observations.jsonl`` (what ``lambench record`` needs)."""
    agent_options: dict[str, Any] = Field(default_factory=dict)
    """Options of model adapters (base_url, cache, protocol, temperature, ...); other agents ignore them."""
    executor: Literal["local", "ray"] = "local"
    """Where episodes run: ``local`` (this process, or a pool of ``workers`` processes) or ``ray`` (Ray tasks,
    ``workers`` at a time); not part of the run's identity, so either one resumes a run of the other."""
    ray_address: str | None = None
    """Ray cluster to use (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``); None starts a local Ray instance."""


_IDENTITY = ("suite", "agent", "seed", "guard", "observation")
_EPISODE_SET = ("trials", "perturb", "task_ids")
"""Options that decide which episodes a run holds.  A resumed run may add episodes (more trials, perturbations or
tasks: those done are kept) but not leave some out, so config.json always describes every episode it holds."""


def default_run_dir(config: RunConfig) -> Path:
    """``runs/<suite>__<agent>__s<seed>[__guard][__<observation>]``: the same command resumes the same directory."""
    agent = re.sub(r"[^A-Za-z0-9._-]+", "-", config.agent).strip("-")
    mode = "" if config.observation == "text" else f"__{config.observation}"
    return Path("runs") / f"{config.suite}__{agent}__s{config.seed}{'__guard' if config.guard else ''}{mode}"


Job = tuple[Task, str, int, int]  # (task, variant name, seed, trial)


def plan_jobs(config: RunConfig, tasks: list[Task]) -> list[Job]:
    """(task, variant, seed, trial) for every episode of the run, in a stable order.

    Every task runs clean and under each requested perturbation; a task with an injection also
    runs with it planted (variant ``injection``), paired with its clean run.
    """
    variants = parse_variants(",".join(config.perturb))
    jobs: list[Job] = []
    for trial in range(config.trials):
        for t in tasks:
            names = ["clean"]
            for v in variants:
                v.check(t)  # a perturbation the task's sandbox cannot run is a usage error
                names.append(v.name)
            if t.injection is not None:
                names.append("injection")
            jobs.extend((t, name, config.seed + trial, trial) for name in names)
    return jobs


def select_tasks(config: RunConfig) -> list[Task]:
    tasks = load_suite(config.suite)
    if not config.task_ids:
        return tasks
    by_id = {t.id: t for t in tasks}
    templates: dict[str, list[Task]] = {}
    for t in tasks:
        if t.instance is not None:
            templates.setdefault(t.instance.template, []).append(t)
    picked: list[Task] = []
    missing = []
    for i in config.task_ids:
        template_id, seed = split_id(i)
        if i in by_id:
            picked.append(by_id[i])
        elif i in templates:  # a template's id: every instance of its sweep
            picked.extend(templates[i])
        elif seed is not None and template_id in templates:  # an instance outside the sweep
            picked.append(instance_of(templates[template_id][0], seed))
        else:
            missing.append(i)
    if missing:
        import difflib

        hints = []
        for m in missing:
            close = difflib.get_close_matches(m, by_id, n=1)
            hints.append(f"{m!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TaskError(config.suite, [f"unknown task(s) in suite {config.suite!r}: {', '.join(hints)}; "
                                       f"see `lambench tasks list --suite {config.suite}`"])
    return list({t.id: t for t in picked}.values())


def config_diffs(old: dict[str, Any], config: RunConfig, version: str, run_dir: Path) -> list[str]:
    """What differs between the run recorded in ``old`` (a ``config.json``) and ``config``: a resumed run must keep
    its identity and the options that can change the agent's answers; a changed suite is an error of its own."""
    defaults = RunConfig.model_fields
    diffs = [f"{k}: {old.get(k, defaults[k].default)!r} -> {getattr(config, k)!r}" for k in _IDENTITY
             if old.get(k, defaults[k].default) != getattr(config, k)]
    for k in _EPISODE_SET:
        was, now = old.get(k, defaults[k].get_default(call_default_factory=True)), getattr(config, k)
        if not _covers(k, now, was):
            diffs.append(f"{k}: {was!r} -> {now!r} (the directory holds episodes this command leaves out)")
    old_opts, new_opts = _answer_options(old.get("agent_options") or {}), _answer_options(
        redacted(config.model_dump())["agent_options"])
    # a value an older lambench masked ("***") cannot be compared: it is taken as the same
    new_opts.update({k: v for k, v in old_opts.items() if v == "***" and k in new_opts})
    if old_opts != new_opts:
        diffs.append(f"agent options: {old_opts} -> {new_opts}")
    if not diffs and old.get("suite_version") not in (None, version):
        raise RunDirError(f"{run_dir} was recorded on suite version {old.get('suite_version')}, but the task "
                          f"files are now version {version}; use a new --out so results are not mixed.")
    return diffs


def _covers(key: str, now: Any, was: Any) -> bool:
    """Whether the episodes of option ``key`` set to ``now`` include those of ``was``."""
    if key == "trials":
        return now >= was
    if key == "task_ids":  # empty: every task of the suite
        return not now or (bool(was) and set(now) >= set(was))
    return set(now) >= set(was)


_NEUTRAL_OPTIONS = frozenset(("cache", "max_concurrency", "price_table", "request_timeout", "max_retries", "api_key"))


def _answer_options(opts: dict[str, Any]) -> dict[str, Any]:
    """The agent options that can change an agent's answers (what a resumed run must keep)."""
    return {k: v for k, v in sorted(opts.items()) if k not in _NEUTRAL_OPTIONS}


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as written to config.json: secrets in the agent options (keys, tokens) masked."""
    opts = config.get("agent_options")
    if not opts:
        return config
    from lambench.agents.clients import is_secret_name, safe_url

    def clean(k: str, v: Any) -> Any:
        if is_secret_name(k):
            return "***"
        return safe_url(v) if isinstance(v, str) and "://" in v else v

    return {**config, "agent_options": {k: clean(k, v) for k, v in opts.items()}}
