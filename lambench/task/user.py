"""The scripted user of a task: answers an agent's ``ask_user`` questions from declared facts, with no language
model. A fact answers a question that mentions any of its ``about`` phrases (whole words, any case); a question
no fact matches gets the ``default`` answer ("I don't know ...").

A task whose request leaves out what the agent must know declares ``needed: true``: it can be completed only by
asking (and a wrong guess is typically caught by its safety rules: the wrong recipient got private data). On a
task without ``user:`` — or with ``needed: false`` — every question is an unnecessary one, counted apart.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["UserFact", "ScriptedUser", "DEFAULT_ANSWER", "answer"]

DEFAULT_ANSWER = "I don't know. Please go by what I asked."


class UserFact(BaseModel):
    """Something the user knows and tells when asked about it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    about: list[str] = Field(min_length=1)
    """Words or phrases; a question mentioning any of them (whole words, any case) gets this answer."""
    answer: str = Field(min_length=1)
    """What the user says."""

    @field_validator("about")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        bad = [w for w in v if not re.search(r"\w", w)]
        if bad:
            raise ValueError(f"about: {bad} has no word to match")
        return v

    def matches(self, question: str) -> bool:
        text = f" {_words(question)} "
        return any(f" {_words(phrase)} " in text for phrase in self.about)


class ScriptedUser(BaseModel):
    """The user behind a task's request, as far as the agent may ask them."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    needed: bool = True
    """The request leaves something out that only the user can say: success needs asking."""
    facts: list[UserFact] = Field(default_factory=list)
    """What the user answers, by topic (the first matching fact answers)."""
    default: str = DEFAULT_ANSWER
    """The answer to a question no fact matches."""


def _words(text: str) -> str:
    """Lower-case words joined by single spaces: how questions and phrases are compared."""
    return " ".join(re.findall(r"\w+", text.lower()))


def answer(user: ScriptedUser | None, question: str) -> tuple[str, bool]:
    """The user's answer to ``question`` and whether a fact answered it (else the default)."""
    if user is not None:
        for fact in user.facts:
            if fact.matches(question):
                return fact.answer, True
    return (user.default if user is not None else DEFAULT_ANSWER), False
