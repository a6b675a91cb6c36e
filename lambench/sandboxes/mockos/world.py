"""The mock OS world: the state and every app's operations on it, and the API tool table derived from them.

Every mutating tool returns the canonical operation it performed, so a GUI action and an API call that do
the same thing leave the same state and the same op in the log.
"""

from __future__ import annotations

from typing import Any

from lambench.sandboxes.mockos.apps.calendar import CalendarApi
from lambench.sandboxes.mockos.apps.files import FilesApi
from lambench.sandboxes.mockos.apps.mail import FOLDERS, MailApi
from lambench.sandboxes.mockos.apps.settings import SettingsApi
from lambench.sandboxes.mockos.apps.writer import WriterApi
from lambench.sandboxes.mockos.tools import ToolSpec, invoke, tool_table


class World(FilesApi, WriterApi, MailApi, CalendarApi, SettingsApi):
    """Owns a state dict and implements every app API on it (one base class per app).

    Each tool method (declared with ``@tool``) takes keyword arguments, raises
    :class:`~lambench.sandboxes.mockos.core.ToolError` on a bad request, and returns
    ``(message, op_or_None, data)``.
    """

    def __init__(self, state: dict[str, Any]):
        self.s = state
        self.id_counter = 0
        """The last number :meth:`new_id` used."""

    def new_id(self, prefix: str) -> str:
        """A fresh message/event id that no setup item already uses."""
        used = {m["id"] for f in FOLDERS for m in self.s["mail"][f]}
        used.update(e["id"] for e in self.s["calendar"]["events"])
        while True:
            self.id_counter += 1
            if f"{prefix}{self.id_counter}" not in used:
                return f"{prefix}{self.id_counter}"

    def call(self, tool: str, args: dict[str, Any]) -> tuple[str, dict | None, Any]:
        """Invoke an API tool by name; unknown tools and bad arguments raise ToolError."""
        return invoke(API, self, tool, args)


API: dict[str, ToolSpec] = tool_table(World)
"""Every app tool by name (files, writer, mail, calendar, settings), derived from the World's ``@tool`` methods."""


def api_tool_definitions() -> list[dict[str, Any]]:
    """OpenAI-style definitions of the mock OS app tools (used through the ``call`` action)."""
    return [spec.definition() for spec in API.values()]
