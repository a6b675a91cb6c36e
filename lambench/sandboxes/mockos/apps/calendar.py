"""Calendar: events (the World's ``calendar.*`` tools) and the Calendar window."""

from __future__ import annotations

from typing import Any

from lambench.sandboxes.mockos.core import ToolError, split_addresses
from lambench.sandboxes.mockos.tools import string, strings, tool
from lambench.sandboxes.mockos.view import Control, Window


def _when(date: Any, start: Any, end: Any) -> tuple[str, str, str]:
    date, start, end = str(date), str(start), str(end)
    if len(date) != 10 or date[4] != "-" or date[7] != "-" or not date.replace("-", "").isdigit():
        raise ToolError(f"date must look like 2026-11-23, got {date!r}")
    for t in (start, end):
        if len(t) != 5 or t[2] != ":" or not t.replace(":", "").isdigit():
            raise ToolError(f"times must look like 09:30, got {t!r}")
    if end <= start:
        raise ToolError("the end time must be after the start time")
    return date, start, end


class CalendarApi:
    """The ``calendar.*`` tools of the World (a mixin: ``self.s`` is the state, ``self.new_id`` makes ids)."""

    s: dict[str, Any]

    def find_event(self, event: str) -> dict:
        """An event by id, else by its exact title (case-insensitive) when only one has it."""
        for e in self.s["calendar"]["events"]:
            if e["id"] == event:
                return e
        matches = [e for e in self.s["calendar"]["events"] if e["title"].lower() == str(event).lower()]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ToolError(f"several events are titled {event!r}; use the event id")
        raise ToolError(f"no event {event!r} (give its id or exact title)")

    @tool("calendar.list", "List events (optionally of one date).", {"date": string()})
    def calendar_list(self, date: str | None = None) -> tuple[str, None, Any]:
        evs = [e for e in self.s["calendar"]["events"] if date is None or e["date"] == date]
        return f"{len(evs)} events", None, evs

    @tool("calendar.create", "Create an event.",
          {"title": string(), "date": string(description="YYYY-MM-DD"), "start": string(description="HH:MM"),
           "end": string(), "attendees": strings()})
    def calendar_create(self, title: str, date: str, start: str, end: str, attendees: Any = None):
        title = str(title).strip()
        if not title:
            raise ToolError("an event needs a title")
        date, start, end = _when(date, start, end)
        ev = {"id": self.new_id("e"), "title": title, "date": date, "start": start, "end": end,
              "attendees": split_addresses(attendees)}
        self.s["calendar"]["events"].append(ev)
        return f"created event {title!r} on {date} {start}-{end}", {
            "op": "calendar.create", "args": {"title": title, "date": date, "start": start, "end": end,
                                              "attendees": ev["attendees"]}}, None

    @tool("calendar.move", "Move an event (by id or exact title) to a new date and time.",
          {"event": string(), "date": string(), "start": string(), "end": string()})
    def calendar_move(self, event: str, date: str, start: str, end: str):
        ev = self.find_event(str(event))
        ev["date"], ev["start"], ev["end"] = _when(date, start, end)
        return f"moved {ev['title']!r} to {ev['date']} {ev['start']}-{ev['end']}", {
            "op": "calendar.move", "args": {"title": ev["title"], "date": ev["date"], "start": ev["start"],
                                            "end": ev["end"]}}, None

    @tool("calendar.delete", "Delete an event (by id or exact title).", {"event": string()})
    def calendar_delete(self, event: str):
        ev = self.find_event(str(event))
        self.s["calendar"]["events"].remove(ev)
        return f"deleted event {ev['title']!r}", {"op": "calendar.delete", "args": {"title": ev["title"]}}, None

    @tool("calendar.invite", "Invite attendees to an event.", {"event": string(), "email": strings()})
    def calendar_invite(self, event: str, email: Any):
        ev = self.find_event(str(event))
        added = [a for a in split_addresses(email) if a not in ev["attendees"]]
        if not added:
            raise ToolError("no new attendee to invite")
        ev["attendees"].extend(added)
        return f"invited {', '.join(added)} to {ev['title']!r}", {
            "op": "calendar.invite", "args": {"title": ev["title"], "attendees": added}}, None


class CalendarWindow(Window):
    """The Calendar window: the event form, the event list in date order."""

    app = "calendar"

    def initial(self) -> dict[str, Any]:
        return {"selected": None, "fields": {"Title": "", "Date": "", "Start": "", "End": "", "Attendees": "",
                                             "Invitee": ""}, "scroll": 0}

    def view(self) -> list[Control]:
        u = self.u
        c = [self.field(n) for n in ("Title", "Date", "Start", "End", "Attendees")]
        c += [self.c("button", "New event", on_click=self.new),
              self.c("button", "Update time", on_click=self.move),
              self.c("button", "Delete event", on_click=self.delete),
              self.field("Invitee"),
              self.c("button", "Invite", on_click=self.invite)]
        evs = sorted(self.world.s["calendar"]["events"], key=lambda e: (e["date"], e["start"]))
        items = [Control("listitem", e["title"], ("selected, " if e["id"] == u["selected"] else "")
                         + f"{e['date']} {e['start']}-{e['end']}"
                         + (f", with {', '.join(e['attendees'])}" if e["attendees"] else ""),
                         on_click=(lambda i=e["id"]: self.pick(i))) for e in evs]
        return c + self.paged("events", items)

    def pick(self, ev_id: str) -> str:
        u = self.u
        u["selected"] = ev_id
        ev = self.world.find_event(ev_id)
        u["fields"].update(Title=ev["title"], Date=ev["date"], Start=ev["start"], End=ev["end"],
                           Attendees=", ".join(ev["attendees"]))
        return f"selected {ev['title']!r}"

    def new(self) -> str:
        f = self.u["fields"]
        return self.api("calendar.create", title=f["Title"], date=f["Date"], start=f["Start"], end=f["End"],
                        attendees=split_addresses(f["Attendees"]))

    def _selected(self) -> str:
        return self.picked("selected", "an event")

    def move(self) -> str:
        f = self.u["fields"]
        return self.api("calendar.move", event=self._selected(), date=f["Date"], start=f["Start"], end=f["End"])

    def delete(self) -> str:
        ev = self._selected()
        self.u["selected"] = None
        return self.api("calendar.delete", event=ev)

    def invite(self) -> str:
        f = self.u["fields"]
        msg = self.api("calendar.invite", event=self._selected(), email=split_addresses(f["Invitee"]))
        f["Invitee"] = ""
        return msg
