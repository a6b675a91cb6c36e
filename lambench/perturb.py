"""Perturbations and variants: the same task, not quite as the agent saw it in training.

A *variant* names what an episode runs: ``clean``; one or more perturbations joined with
``+`` (``popup``, ``relabel+layout-shuffle``); or ``injection`` (the task's planted attack).
Perturbations are deterministic per seed; a sandbox's plugin declares those it supports (and its package
holds their mechanics).

>>> Variant.parse("relabel+popup").perturbations
('popup', 'relabel')
>>> Variant.parse("clean").name
'clean'
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any

from lambench.errors import LambenchError
from lambench.sandboxes import registry

__all__ = ["PERTURBATIONS", "Perturbation", "PerturbationError", "Variant",
           "parse_variants", "paraphrase", "stable_hash"]


@dataclass(frozen=True)
class Perturbation:
    name: str
    description: str
    extra_steps: int = 0
    """Steps added to the task's budget: what the perturbation costs an agent that handles it well."""

    @property
    def sandboxes(self) -> tuple[str, ...]:
        """The sandboxes that support it (as their plugins declare)."""
        return tuple(s.name for s in registry.specs() if self.name in s.perturbations)


PERTURBATIONS: dict[str, Perturbation] = {p.name: p for p in (
    Perturbation("layout-shuffle", "controls of the window reordered and labels renumbered"),
    Perturbation("relabel", "buttons and fields renamed with synonyms (Delete -> Move to trash, ...)"),
    Perturbation("popup", "a distractor 'Software update' dialog appears after a few actions and must be "
                          "dismissed", extra_steps=1),
    Perturbation("transient-error", "the first action that changes something fails once with a retryable "
                                    "error and has no effect", extra_steps=1),
    Perturbation("delayed-ui", "a freshly opened window shows its list only after one or two more steps "
                               "(use the wait action)", extra_steps=4),
    Perturbation("paraphrase", "the request reworded (paraphrases from the task file, else templates)"),
)}

# Template rewording, for tasks that ship no paraphrases: sentence frames that fit any request,
# and verb swaps that keep the meaning.
_PARA_FRAMES = ["Could you take care of this for me? {text}", "Here is what I need: {text}",
                "Quick request. {text}", "{text} Thanks!", "When you have a moment: {text}"]
_PARA_SWAPS = [("Delete ", "Remove "), ("delete ", "remove "), ("Email ", "Send "), ("email ", "send "),
               ("Create ", "Make "), ("create ", "make "), ("Rename ", "Change the name of "),
               ("rename ", "change the name of "), ("Turn on ", "Switch on "), ("turn on ", "switch on "),
               ("Turn off ", "Switch off "), ("turn off ", "switch off "), ("Forward ", "Pass on "),
               ("forward ", "pass on ")]


class PerturbationError(LambenchError, ValueError):
    """An unknown perturbation, or one the task's sandbox does not support."""


def stable_hash(*parts: Any) -> int:
    """A hash that is the same in every process (Python's ``hash`` of a str is salted)."""
    return zlib.crc32(":".join(map(str, parts)).encode())


@dataclass(frozen=True)
class Variant:
    """What an episode runs: clean, perturbed, or with the task's injection."""

    perturbations: tuple[str, ...] = ()
    injection: bool = False

    @property
    def name(self) -> str:
        if self.injection:
            return "injection"
        return "+".join(self.perturbations) or "clean"

    @property
    def extra_steps(self) -> int:
        return sum(PERTURBATIONS[p].extra_steps for p in self.perturbations)

    def has(self, perturbation: str) -> bool:
        return perturbation in self.perturbations

    @classmethod
    def parse(cls, name: str) -> "Variant":
        name = name.strip()
        if name in ("", "clean"):
            return cls()
        if name == "injection":
            return cls(injection=True)
        parts = tuple(sorted({p.strip() for p in name.split("+") if p.strip()}))
        unknown = [p for p in parts if p not in PERTURBATIONS]
        if unknown:
            import difflib

            hints = [f"{u!r}" + (f" (did you mean {difflib.get_close_matches(u, PERTURBATIONS, n=1)[0]!r}?)"
                                 if difflib.get_close_matches(u, PERTURBATIONS, n=1) else "") for u in unknown]
            raise PerturbationError(f"unknown perturbation {', '.join(hints)}; known: {', '.join(PERTURBATIONS)} "
                                    "(see `lambench perturbations list`)")
        return cls(perturbations=parts)

    def check(self, task: Any) -> None:
        """Raise :class:`PerturbationError` when the task's sandbox cannot run this variant."""
        for p in self.perturbations:
            if p not in registry.get(task.sandbox).perturbations:
                raise PerturbationError(f"task {task.id!r}: perturbation {p!r} is not supported by the "
                                        f"{task.sandbox!r} sandbox (it supports: "
                                        f"{', '.join(PERTURBATIONS[p].sandboxes)})")
        if self.injection and task.injection is None:
            raise PerturbationError(f"task {task.id!r} has no injection to plant")

    def supported_by(self, task: Any) -> bool:
        try:
            self.check(task)
        except PerturbationError:
            return False
        return True


def parse_variants(option: str | None) -> list[Variant]:
    """``--perturb popup,relabel+layout-shuffle`` -> [popup, layout-shuffle+relabel] (clean is implied)."""
    if not option:
        return []
    out: list[Variant] = []
    for spec in option.split(","):
        if spec.strip():
            v = Variant.parse(spec)
            if v.injection or not v.perturbations:
                raise PerturbationError(f"--perturb takes perturbation names, not {spec.strip()!r}; clean and "
                                        "injection variants run by themselves")
            if v not in out:
                out.append(v)
    return out


def paraphrase(task: Any, seed: int) -> str:
    """The task's request reworded, deterministically for the seed: one of the task's shipped
    ``paraphrases``, else the request in a sentence frame with a verb swapped for a synonym."""
    rng = random.Random(stable_hash("paraphrase", task.id, seed))
    if task.paraphrases:
        return rng.choice(task.paraphrases)
    text = task.instruction.strip()
    for a, b in _PARA_SWAPS:
        if text.startswith(a) or f" {a}" in text:
            text = text.replace(a, b, 1)
            break
    return rng.choice(_PARA_FRAMES).format(text=text)
