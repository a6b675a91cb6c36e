"""Episode records: what a finished episode leaves behind, one JSON line each.

These pydantic models document the JSON line format of DESIGN.md and validate it in the
tests; the runner writes, and the scorers read, the equivalent plain dicts (fast, and
tolerant of fields added by later versions).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lambench.sandboxes import registry

Claim = Literal["success", "failure", "infeasible", "none"]


class SafetyEvent(BaseModel):
    """One violation of a task's safety rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    """Id of the safety rule that fired."""
    category: str
    """Risk category of the rule (see ``lambench.safety.RiskCategory``)."""
    severity: str = "high"
    """``low`` | ``medium`` | ``high`` | ``critical``."""
    step: int
    """Index of the step whose action caused it (0-based)."""
    description: str = ""
    """Human-readable explanation of what happened."""
    blocked: bool = False
    """True when guard mode stopped the action before it took effect (an attempted unsafe action)."""


class StepRecord(BaseModel):
    """One agent step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int
    raw: Any = None
    """The agent's output as given (text or JSON object), for invalid actions and audits."""
    action: dict[str, Any] | None = None
    """The parsed action (``None`` when the output did not parse)."""
    valid: bool
    """True when the output parsed into a well-formed action."""
    error: str | None = None
    """Why the action was invalid or failed (shown to the agent in the next observation)."""
    ok: bool = False
    """True when the action executed without an error."""
    result: str = ""
    """Short description of what the action did."""
    ops: list[dict[str, Any]] = Field(default_factory=list)
    """Canonical state operations the action caused (same for GUI and API paths)."""
    blocked_ops: list[dict[str, Any]] = Field(default_factory=list)
    """Operations guard mode undid (the action broke a safety rule)."""
    safety_events: list[SafetyEvent] = Field(default_factory=list)
    latency_s: float = 0.0
    """Seconds the agent took to produce the action."""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    """US dollars the model call cost (``None`` when unknown: no price for the model)."""


class CheckVerdict(BaseModel):
    """The verdict of one check on the final state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    """The check as written in the task (predicate name and args, compact)."""
    passed: bool
    detail: str = ""


class EpisodeRecord(BaseModel):
    """One finished episode: one line of ``RUN_DIR/episodes.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    suite: str
    variant: str = "clean"
    """``clean`` or the perturbation names applied (comma-joined)."""
    seed: int
    trial: int
    agent: str
    sandbox: str = Field(default_factory=registry.default_name)
    app: list[str] = Field(default_factory=list)
    """Apps the task touches (from the task's tags), for per-app breakdowns."""
    tags: list[str] = Field(default_factory=list)
    infeasible: bool = False
    """True when the task's right answer is ``finish(status=infeasible)``."""
    difficulty: Literal["easy", "medium", "hard"] | None = None
    """The task's difficulty label (declared, or derived from its gold and apps); absent in older runs."""
    human_time_s: int | None = None
    """The task's estimated time for a person, in seconds; absent in older runs."""
    needs_user: bool = False
    """The request leaves out what only the user can say (the task's ``user.needed``): success needs asking."""
    n_questions: int = Field(default=0, ge=0)
    """``ask_user`` actions in the episode."""
    success: bool = False
    """Verified success: checks pass (and, for infeasible tasks, the claim is ``infeasible``)."""
    claim: Claim = "none"
    """The agent's final claim; ``none`` when it never called ``finish``."""
    claim_message: str = ""
    false_success: bool = False
    """True when the agent claimed ``success`` but the episode is not a verified success."""
    unsafe: bool = False
    """True when at least one unsafe action took effect."""
    unsafe_attempted: bool = False
    """True when at least one unsafe action was attempted (executed, or blocked by guard mode)."""
    guard: bool = False
    """True when the episode ran in guard mode."""
    instruction: str = ""
    """The request as the agent saw it (paraphrased in the ``paraphrase`` variant)."""
    unsafe_events: list[SafetyEvent] = Field(default_factory=list)
    checks: list[CheckVerdict] = Field(default_factory=list)
    state_changes: list[str] = Field(default_factory=list)
    """Parts of the world state that differ from the start (e.g. ``fs:/home/user/a.txt``, ``mail.sent``)."""
    max_steps: int | None = None
    """The task's step budget (of the clean task; a variant may add steps): success by step budget reads it."""
    n_steps: int = 0
    n_invalid: int = 0
    """Steps whose output did not parse into an action."""
    steps: list[StepRecord] = Field(default_factory=list)
    termination: Literal["finish", "max_steps", "step_timeout", "episode_timeout", "sandbox_broken", "error"] = "finish"
    """How the episode ended; ``sandbox_broken``: the agent's actions broke the harness's session with its
    sandbox (scored as a failure, with an unsafe ``sandbox-broken`` event)."""
    wall_time_s: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    """Sum of the steps' known costs (``None`` when no step had a price)."""
    attack_succeeded: bool | None = None
    """For injection tasks: whether the attacker's goal predicate holds at the end."""
    error: str | None = None
    """``None``, or an infrastructure error (retried; such episodes are never scored)."""
    attempts: int = 1
    """How many times the episode was tried (infra errors are retried)."""

    def key(self) -> tuple[str, str, int, int]:
        return (self.task_id, self.variant, self.seed, self.trial)


def episode_key(rec: dict[str, Any]) -> tuple[str, str, int, int]:
    """The resume key of an episode line: (task_id, variant, seed, trial)."""
    return (rec["task_id"], rec.get("variant", "clean"), int(rec["seed"]), int(rec["trial"]))
