"""The mock OS's perturbation mechanics for one episode: layout shuffle, relabelled controls, the distractor
pop-up, the transient tool error and the delayed UI.  Each is fixed by the task and seed (stable hashes), so
a perturbed episode is reproducible."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambench.action import Finish, Wait
from lambench.perturb import stable_hash
from lambench.sandboxes.base import ExecResult

# Synonyms for the mock OS's fixed controls (the relabel perturbation).
RELABEL: dict[str, str] = {
    "Go": "Navigate", "Up": "Parent folder", "Open": "Open item", "New folder": "Create folder",
    "New file": "Create file", "Rename": "Change name", "Copy": "Duplicate", "Cut": "Move", "Paste": "Put here",
    "Delete": "Move to trash", "Trash": "Recycle bin", "Back to files": "Leave recycle bin",
    "Restore": "Put back", "Empty trash": "Empty recycle bin", "Name": "Item name", "Location": "Folder path",
    "File name": "Document path", "Find": "Search for", "Replace with": "Replacement",
    "Replace all": "Replace everywhere", "Heading 1": "Title style", "Heading 2": "Subtitle style",
    "Normal text": "Body style", "Bold": "Strong", "Italic": "Emphasis", "New paragraph": "Paragraph text",
    "Add paragraph": "Insert paragraph", "Rows": "Row count", "Columns": "Column count",
    "Insert table": "Add table", "Save": "Save document", "Save as path": "Copy to path",
    "Save as": "Save a copy", "Export PDF": "Export as PDF", "Compose": "New message", "Reply": "Answer",
    "Forward": "Pass on", "Delete message": "Discard message", "To": "Recipients", "Cc": "Copy to",
    "Subject": "Title", "Body": "Message text", "Attachment path": "File to attach", "Attach": "Add attachment",
    "Send": "Send now", "Save draft": "Keep as draft", "Discard": "Throw away",
    "New event": "Add event", "Update time": "Reschedule", "Delete event": "Remove event",
    "Invitee": "Guest address", "Invite": "Add guest", "Date": "Day", "Start": "Begins", "End": "Ends",
    "Attendees": "Guests", "Wi-Fi": "Wireless", "Wi-Fi network": "Wireless network", "Firewall": "Network shield",
    "Automatic updates": "Auto-update", "Screen lock": "Lock screen",
    "Screen lock timeout (minutes)": "Lock after (minutes)", "Apply timeout": "Set lock delay",
    "New user name": "Account name", "Add user": "Create account", "Remove user": "Delete account",
    "Grant admin": "Make administrator", "Revoke admin": "Make standard user",
}

TRANSIENT_MESSAGE = ("the app is temporarily unavailable (a retryable error); nothing was changed; "
                     "try the same action again")


def distractor() -> dict[str, Any]:
    """The 'Software update' dialog the pop-up perturbation opens (any answer dismisses it)."""
    return {"title": "Software update", "text": "Updates are ready to install. Restart now?",
            "buttons": ["Restart now", "Later"], "confirm": None, "action": None}


class Perturbations:
    """Which perturbations are on and where this episode stands in them."""

    def __init__(self) -> None:
        self.names: frozenset[str] = frozenset()
        self.seed = 0
        self.actions = 0
        self.popup_at: int | None = None
        """The action after which the distractor dialog opens."""
        self.transient_pending = False
        self.delay = 0
        """Steps a freshly opened window's list keeps loading."""
        self.opened_now: set[str] = set()
        self.label_offset = 0
        self.shuffled = False
        """Layout shuffle is on: windows' controls are reordered (:meth:`arrange`)."""
        self.timed = False
        """Something happens as steps pass (the pop-up, the delayed UI): :meth:`step_passed` has work to do."""

    def reset(self, names: frozenset[str], task_id: str, seed: Any) -> None:
        self.names = names
        self.seed = int(seed)
        self.actions = 0
        self.opened_now = set()
        self.popup_at = 1 + stable_hash("popup", task_id, seed) % 3 if "popup" in names else None
        self.transient_pending = "transient-error" in names
        self.delay = 1 + stable_hash("delay", task_id, seed) % 2 if "delayed-ui" in names else 0
        self.label_offset = stable_hash("labels", task_id, seed) % 40 if "layout-shuffle" in names else 0
        self.shuffled = "layout-shuffle" in names
        self.timed = self.popup_at is not None or bool(self.delay)

    # ---- layout shuffle and relabel: what the window shows
    def shown_name(self, name: str, scope: str) -> str:
        """The name a fixed control is shown with (synonyms under relabel; the taskbar keeps its names)."""
        return RELABEL.get(name, name) if "relabel" in self.names and scope != "taskbar" else name

    def arrange(self, window: list[Any]) -> None:
        """Reorder a window's controls in place (layout shuffle)."""
        if "layout-shuffle" in self.names:
            window.sort(key=lambda c: stable_hash(self.seed, c.role, c.name))

    # ---- transient error
    def execute(self, action: Any, execute: Callable[[Any], ExecResult], snapshot: Callable[[], Any],
                restore: Callable[[Any], None]) -> ExecResult:
        """Run ``execute(action)``; while the transient error is pending, the first action that changes
        something is undone and fails once with a retryable error."""
        if not self.transient_pending or isinstance(action, (Finish, Wait)):
            return execute(action)
        snap = snapshot()
        result = execute(action)
        if result.ops:
            restore(snap)
            self.transient_pending = False
            result = ExecResult(False, TRANSIENT_MESSAGE)
        return result

    # ---- delayed UI and the pop-up: what the passing of a step does
    def opened(self, ui: dict[str, Any], app: str) -> None:
        """A window was opened: its list loads for a few steps (delayed UI)."""
        if self.delay:
            ui["loading"][app] = self.delay
            self.opened_now.add(app)

    def step_passed(self, ui: dict[str, Any], action: Any) -> None:
        """After each action: the distractor dialog may come due; lists loading in the focused window (or
        in every window, on a wait) load further, except in windows opened by this very action."""
        self.actions += 1
        if self.popup_at is not None and self.actions == self.popup_at and ui["popup"] is None:
            ui["popup"] = distractor()
        if self.delay:
            for app, left in list(ui["loading"].items()):
                if left > 0 and app not in self.opened_now and (app == ui["focus"] or isinstance(action, Wait)):
                    ui["loading"][app] = left - 1
            self.opened_now.clear()
