"""Agents: the protocol, spec resolution and the baseline agents."""

from lambench.agents.base import BUILTIN_AGENTS, Agent, AgentSpecError, Observation, make_agent

__all__ = ["Agent", "AgentSpecError", "BUILTIN_AGENTS", "Observation", "make_agent"]
