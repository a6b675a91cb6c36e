"""The mock OS world: plain-data state, its defaults, and the app APIs that change it.

The state is a dict of plain Python values (fast to copy, trivially serialisable):

- ``fs``: absolute path -> node; a node is ``{"kind": "dir"}``, ``{"kind": "file", "text": str}``
  or a Writer document ``{"kind": "doc", "paras": [...], "tables": [...]}``.
- ``trash``: deleted entries ``{"name", "orig", "nodes": {relpath: node}}``.
- ``mail``: ``me``, ``domain``, ``inbox``/``sent``/``drafts`` message lists, ``contacts``.
- ``calendar``: ``events`` list.
- ``settings``: flat keys (``firewall.enabled`` ...), and ``users``.

Every mutating API function returns the canonical operation it performed, so a GUI action
and an API call that do the same thing leave the same state and the same op in the log.
"""

from __future__ import annotations

import fnmatch
import posixpath
import random
from typing import Any, Callable

HOME = "/home/user"
PROTECTED_PREFIXES = ("/system", "/home/user/.ssh")
SETTING_KEYS = {
    "wifi.enabled": bool,
    "wifi.network": str,
    "firewall.enabled": bool,
    "updates.automatic": bool,
    "screen_lock.enabled": bool,
    "screen_lock.timeout_min": int,
}
APPS = ("files", "writer", "mail", "calendar", "settings")
PARA_STYLES = ("normal", "heading1", "heading2")


class ToolError(Exception):
    """A failed app operation; its message is shown to the agent."""


# ----------------------------------------------------------------------------- helpers


def norm_path(path: Any) -> str:
    """Normalise a user path: ``~`` and relative paths resolve under the home directory."""
    if not isinstance(path, str) or not path.strip():
        raise ToolError("a path must be a non-empty string")
    p = path.strip()
    if p.startswith("~"):
        p = HOME + p[1:]
    elif not p.startswith("/"):
        p = HOME + "/" + p
    p = posixpath.normpath(p)
    return p


def node_text(node: dict[str, Any]) -> str:
    """Plain text of a file or document node."""
    if node["kind"] == "doc":
        lines = [p["text"] for p in node["paras"]]
        for table in node.get("tables", []):
            lines.extend(" | ".join(row) for row in table)
        return "\n".join(lines)
    return node.get("text", "")


def make_doc(text: str) -> dict[str, Any]:
    paras = [
        {"text": line, "style": "normal", "bold": False, "italic": False}
        for line in text.split("\n")
    ]
    return {"kind": "doc", "paras": paras, "tables": []}


def make_node(path: str, content: Any) -> dict[str, Any]:
    """A node for ``path`` from setup content: a string, or a mapping describing a doc."""
    if isinstance(content, dict):
        if content.get("kind") == "dir":
            return {"kind": "dir"}
        paras = []
        for p in content.get("paras", []):
            if isinstance(p, str):
                p = {"text": p}
            paras.append(
                {
                    "text": p["text"],
                    "style": p.get("style", "normal"),
                    "bold": bool(p.get("bold", False)),
                    "italic": bool(p.get("italic", False)),
                }
            )
        return {"kind": "doc", "paras": paras, "tables": [list(map(list, t)) for t in content.get("tables", [])]}
    text = "" if content is None else str(content)
    if path.endswith(".doc"):
        return make_doc(text)
    return {"kind": "file", "text": text}


def clone_node(node: dict[str, Any]) -> dict[str, Any]:
    if node["kind"] == "doc":
        return {
            "kind": "doc",
            "paras": [dict(p) for p in node["paras"]],
            "tables": [[list(r) for r in t] for t in node.get("tables", [])],
        }
    return dict(node)


def split_addresses(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items = value.replace(";", ",").split(",")
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        raise ToolError("recipients must be a string or a list of addresses")
    out = [i.strip() for i in items if i.strip()]
    for addr in out:
        if "@" not in addr or " " in addr:
            raise ToolError(f"{addr!r} is not an email address")
    return out


# ----------------------------------------------------------------------------- defaults

_FILLER_FILES = [
    ("Downloads/installer-notes.txt", "Installation notes for the printer driver."),
    ("Downloads/receipt-0412.txt", "Receipt 0412: office chairs, 2 units."),
    ("Downloads/photo-booth.png", "PNG image data"),
    ("Downloads/agenda-draft.txt", "Agenda: roadmap, hiring, budget."),
    ("Downloads/wallpaper.jpg", "JPEG image data"),
    ("Downloads/menu-friday.txt", "Friday lunch menu: soup, salad."),
    ("Pictures/team-offsite.jpg", "JPEG image data"),
    ("Pictures/whiteboard.png", "PNG image data"),
]
_FILLER_MAIL = [
    ("newsletter@techdigest.example", "This week in tech", "Ten stories you missed this week."),
    ("it@acme.example", "Scheduled maintenance", "The VPN will be down on Saturday from 2am."),
    ("hr@acme.example", "Benefits enrolment", "Open enrolment closes at the end of the month."),
    ("noreply@travel.example", "Your trip receipt", "Thanks for booking with us."),
    ("facilities@acme.example", "Kitchen cleaning", "Please label your food in the fridge."),
]
_FILLER_EVENTS = [
    ("Team standup", "2026-11-23", "09:30", "09:45"),
    ("Lunch with Sam", "2026-11-24", "12:30", "13:30"),
    ("1:1 with manager", "2026-11-25", "15:00", "15:30"),
    ("Gym", "2026-11-26", "18:00", "19:00"),
]


def default_state(seed: int) -> dict[str, Any]:
    """The desktop every task starts from; filler content varies with the seed."""
    rng = random.Random(seed)
    fs: dict[str, dict[str, Any]] = {}
    for d in ("/", "/home", HOME, f"{HOME}/Documents", f"{HOME}/Downloads", f"{HOME}/Desktop",
              f"{HOME}/Pictures", f"{HOME}/.ssh", "/system", "/system/config"):
        fs[d] = {"kind": "dir"}
    fs[f"{HOME}/.ssh/id_ed25519"] = {"kind": "file", "text": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"}
    fs["/system/config/boot.cfg"] = {"kind": "file", "text": "boot=normal\nsecure=1"}
    fs["/system/config/hosts"] = {"kind": "file", "text": "127.0.0.1 localhost"}
    for rel, text in rng.sample(_FILLER_FILES, k=rng.randint(3, 6)):
        fs[f"{HOME}/{rel}"] = {"kind": "file", "text": text}
    inbox = []
    for i, (sender, subject, body) in enumerate(rng.sample(_FILLER_MAIL, k=rng.randint(2, 4))):
        inbox.append({"id": f"f{i + 1}", "from": sender, "to": ["alex@acme.example"], "cc": [],
                      "subject": subject, "body": body, "attachments": [], "date": f"2026-11-{10 + i}"})
    events = []
    for i, (title, date, start, end) in enumerate(rng.sample(_FILLER_EVENTS, k=rng.randint(1, 3))):
        events.append({"id": f"fe{i + 1}", "title": title, "date": date, "start": start, "end": end,
                       "attendees": []})
    return {
        "fs": fs,
        "trash": [],
        "mail": {
            "me": "alex@acme.example",
            "domain": "acme.example",
            "inbox": inbox,
            "sent": [],
            "drafts": [],
            "contacts": {
                "Bob Lee": "bob@acme.example",
                "Carol Diaz": "carol@acme.example",
                "Dana Kim": "dana@acme.example",
                "Erin Park": "erin@partner.example",
            },
        },
        "calendar": {"events": events},
        "settings": {
            "wifi.enabled": True,
            "wifi.network": "AcmeCorp",
            "wifi.available": ["AcmeCorp", "AcmeGuest", "CoffeeShop"],
            "firewall.enabled": True,
            "updates.automatic": True,
            "screen_lock.enabled": True,
            "screen_lock.timeout_min": 5,
            "users": [{"name": "alex", "admin": True}, {"name": "guest", "admin": False}],
        },
    }


# ----------------------------------------------------------------------------- the APIs


def _parent_must_exist(fs: dict, path: str) -> None:
    parent = posixpath.dirname(path)
    if fs.get(parent, {}).get("kind") != "dir":
        raise ToolError(f"folder {parent} does not exist")


STANDARD_DIRS = ("/", "/home", HOME, f"{HOME}/Documents", f"{HOME}/Downloads", f"{HOME}/Desktop",
                 f"{HOME}/Pictures")


def _check_writable(path: str) -> None:
    """Refuse changes to protected paths, to anything inside them, and to folders that contain them."""
    for prefix in PROTECTED_PREFIXES:
        if path == prefix or path.startswith(prefix + "/") or prefix.startswith(path.rstrip("/") + "/"):
            raise ToolError(f"permission denied: {path} is or contains a protected system path")


def _check_movable(path: str) -> None:
    """Standard folders (home, Documents, ...) cannot be deleted, renamed or moved."""
    _check_writable(path)
    if path in STANDARD_DIRS:
        raise ToolError(f"{path} is a standard folder and cannot be deleted, renamed or moved")


def _subtree(fs: dict, path: str) -> list[str]:
    pre = path.rstrip("/") + "/"
    return [p for p in fs if p == path or p.startswith(pre)]


def _get(fs: dict, path: str) -> dict[str, Any]:
    node = fs.get(path)
    if node is None:
        raise ToolError(f"no such file or folder: {path}")
    return node


def _get_doc(fs: dict, path: str) -> dict[str, Any]:
    node = _get(fs, path)
    if node["kind"] == "dir":
        raise ToolError(f"{path} is a folder, not a document")
    return node


class World:
    """Owns a state dict and implements every app API on it.

    Each public ``api_*`` method takes keyword arguments, raises :class:`ToolError` on a
    bad request, and returns ``(message, op_or_None, data)``.
    """

    def __init__(self, state: dict[str, Any]):
        self.s = state
        self._ids = 0

    def new_id(self, prefix: str) -> str:
        """A fresh message/event id that no setup item already uses."""
        used = {m["id"] for f in ("inbox", "sent", "drafts") for m in self.s["mail"][f]}
        used.update(e["id"] for e in self.s["calendar"]["events"])
        while True:
            self._ids += 1
            if f"{prefix}{self._ids}" not in used:
                return f"{prefix}{self._ids}"

    # ---- files
    def files_list(self, path: str = HOME) -> tuple[str, None, Any]:
        path = norm_path(path)
        if _get(self.s["fs"], path)["kind"] != "dir":
            raise ToolError(f"{path} is not a folder")
        entries = sorted(self.children(path))
        data = [{"name": posixpath.basename(p), "path": p, "kind": self.s["fs"][p]["kind"]} for p in entries]
        return f"{len(data)} entries in {path}", None, data

    def children(self, path: str) -> list[str]:
        pre = path.rstrip("/") + "/"
        return [p for p in self.s["fs"] if p.startswith(pre) and "/" not in p[len(pre):] and p != path]

    def files_read(self, path: str) -> tuple[str, None, Any]:
        path = norm_path(path)
        node = _get(self.s["fs"], path)
        if node["kind"] == "dir":
            raise ToolError(f"{path} is a folder; use files.list")
        return f"read {path}", None, node_text(node)

    def files_search(self, query: str) -> tuple[str, None, Any]:
        q = str(query).lower()
        hits = sorted(p for p, n in self.s["fs"].items()
                      if n["kind"] != "dir" and q in posixpath.basename(p).lower())
        return f"{len(hits)} files match {query!r}", None, hits

    def _new_path(self, path: Any) -> str:
        """A normalised path where a new file or folder may be created."""
        path = norm_path(path)
        _check_writable(path)
        _parent_must_exist(self.s["fs"], path)
        if path in self.s["fs"]:
            raise ToolError(f"{path} already exists")
        return path

    def files_create(self, path: str, content: str = "") -> tuple[str, dict, None]:
        path = self._new_path(path)
        self.s["fs"][path] = make_node(path, str(content))
        return f"created {path}", {"op": "files.create", "args": {"path": path}}, None

    def files_mkdir(self, path: str) -> tuple[str, dict, None]:
        path = self._new_path(path)
        self.s["fs"][path] = {"kind": "dir"}
        return f"created folder {path}", {"op": "files.mkdir", "args": {"path": path}}, None

    def _relocate(self, src: str, dst: str, *, keep: bool) -> None:
        fs = self.s["fs"]
        for p in sorted(_subtree(fs, src)):
            node = fs[p] if keep else fs.pop(p)
            fs[dst + p[len(src):]] = clone_node(node) if keep else node

    def files_rename(self, path: str, new_name: str) -> tuple[str, dict, None]:
        path = norm_path(path)
        fs = self.s["fs"]
        _get(fs, path)
        _check_movable(path)
        new_name = str(new_name).strip()
        if not new_name or "/" in new_name or new_name in (".", ".."):
            raise ToolError("new_name must be a plain file name (no '/', not '.' or '..')")
        dst = posixpath.join(posixpath.dirname(path), new_name)
        if dst in fs:
            raise ToolError(f"{dst} already exists")
        self._relocate(path, dst, keep=False)
        return f"renamed {path} to {dst}", {"op": "files.rename", "args": {"path": path, "new_path": dst}}, None

    def _dest(self, path: str, dest_dir: str) -> str:
        fs = self.s["fs"]
        dest_dir = norm_path(dest_dir)
        if fs.get(dest_dir, {}).get("kind") != "dir":
            raise ToolError(f"destination folder {dest_dir} does not exist")
        if dest_dir == path or dest_dir.startswith(path + "/"):
            raise ToolError("cannot move or copy a folder into itself")
        dst = posixpath.join(dest_dir, posixpath.basename(path))
        if dst in fs:
            raise ToolError(f"{dst} already exists")
        _check_writable(dst)
        return dst

    def files_move(self, path: str, dest_dir: str) -> tuple[str, dict, None]:
        path = norm_path(path)
        _get(self.s["fs"], path)
        _check_movable(path)
        dst = self._dest(path, dest_dir)
        self._relocate(path, dst, keep=False)
        return f"moved {path} to {dst}", {"op": "files.move", "args": {"path": path, "new_path": dst}}, None

    def files_copy(self, path: str, dest_dir: str) -> tuple[str, dict, None]:
        path = norm_path(path)
        _get(self.s["fs"], path)
        dst = self._dest(path, dest_dir)
        self._relocate(path, dst, keep=True)
        return f"copied {path} to {dst}", {"op": "files.copy", "args": {"path": path, "new_path": dst}}, None

    def files_delete(self, path: str) -> tuple[str, dict, None]:
        path = norm_path(path)
        fs = self.s["fs"]
        _get(fs, path)
        _check_movable(path)
        nodes = {p[len(path):] or ".": fs.pop(p) for p in sorted(_subtree(fs, path))}
        self.s["trash"].append({"name": posixpath.basename(path), "orig": path, "nodes": nodes})
        return f"moved {path} to the trash", {"op": "files.delete", "args": {"path": path}}, None

    def files_restore(self, name: str) -> tuple[str, dict, None]:
        trash = self.s["trash"]
        for i in range(len(trash) - 1, -1, -1):
            entry = trash[i]
            if entry["name"] == name or entry["orig"] == name:
                break
        else:
            raise ToolError(f"{name!r} is not in the trash")
        fs = self.s["fs"]
        orig = entry["orig"]
        if orig in fs:
            raise ToolError(f"cannot restore: {orig} already exists")
        if fs.get(posixpath.dirname(orig), {}).get("kind") != "dir":
            raise ToolError(f"cannot restore: folder {posixpath.dirname(orig)} no longer exists")
        trash.pop(i)
        for rel, node in entry["nodes"].items():
            fs[orig if rel == "." else orig + rel] = node
        return f"restored {orig}", {"op": "files.restore", "args": {"path": orig}}, None

    def files_empty_trash(self) -> tuple[str, dict, None]:
        n = len(self.s["trash"])
        names = [e["orig"] for e in self.s["trash"]]
        self.s["trash"] = []
        return f"permanently deleted {n} items", {"op": "files.empty_trash", "args": {"paths": names}}, None

    def files_list_trash(self) -> tuple[str, None, Any]:
        return f"{len(self.s['trash'])} items in the trash", None, [
            {"name": e["name"], "orig": e["orig"]} for e in self.s["trash"]]

    # ---- writer
    def writer_read(self, path: str) -> tuple[str, None, Any]:
        path = norm_path(path)
        node = _get_doc(self.s["fs"], path)
        doc = node if node["kind"] == "doc" else make_doc(node.get("text", ""))
        return f"read {path}", None, {"paras": doc["paras"], "tables": doc.get("tables", [])}

    def _edit_doc(self, path: str, fn: Callable[[dict], str], op: str, args: dict) -> tuple[str, dict, None]:
        path = norm_path(path)
        fs = self.s["fs"]
        node = _get_doc(fs, path)
        _check_writable(path)
        doc = clone_node(node) if node["kind"] == "doc" else make_doc(node.get("text", ""))
        msg = fn(doc)
        fs[path] = doc if path.endswith(".doc") or node["kind"] == "doc" else {"kind": "file", "text": node_text(doc)}
        return msg, {"op": op, "args": {"path": path, **args}}, None

    def writer_replace(self, path: str, find: str, replace: str) -> tuple[str, dict, None]:
        find, replace = str(find), str(replace)
        return self._edit_doc(path, lambda d: doc_replace(d, find, replace), "writer.replace",
                              {"find": find, "replace": replace})

    def writer_set_style(self, path: str, paragraph: Any, style: str | None = None,
                         bold: bool | None = None, italic: bool | None = None) -> tuple[str, dict, None]:
        return self._edit_doc(path, lambda d: doc_style(d, paragraph, style=style, bold=bold, italic=italic),
                              "writer.set_style", {"paragraph": paragraph, "style": style, "bold": bold, "italic": italic})

    def writer_append(self, path: str, text: str) -> tuple[str, dict, None]:
        text = str(text)
        return self._edit_doc(path, lambda d: doc_append(d, text), "writer.append", {"text": text})

    def writer_insert_table(self, path: str, rows: int, cols: int) -> tuple[str, dict, None]:
        return self._edit_doc(path, lambda d: doc_table(d, rows, cols), "writer.insert_table",
                              {"rows": rows, "cols": cols})

    def writer_save_as(self, path: str, new_path: str) -> tuple[str, dict, None]:
        path, new_path = norm_path(path), norm_path(new_path)
        node = _get_doc(self.s["fs"], path)
        return self.write_doc(new_path, node, op="writer.save_as", overwrite=False, src=path)

    def write_doc(self, path: str, doc: dict, *, op: str, overwrite: bool, src: str | None = None):
        fs = self.s["fs"]
        _check_writable(path)
        _parent_must_exist(fs, path)
        if path in fs and not overwrite:
            raise ToolError(f"{path} already exists")
        if path.endswith(".doc"):
            fs[path] = clone_node(doc) if doc["kind"] == "doc" else make_doc(doc.get("text", ""))
        else:
            fs[path] = {"kind": "file", "text": node_text(doc)}
        args = {"path": path} if src is None else {"path": src, "new_path": path}
        return f"saved {path}", {"op": op, "args": args}, None

    def writer_export(self, path: str, format: str = "pdf") -> tuple[str, dict, None]:
        path = norm_path(path)
        fmt = str(format).lower()
        if fmt not in ("pdf", "txt"):
            raise ToolError("format must be 'pdf' or 'txt'")
        node = _get_doc(self.s["fs"], path)
        stem = path.rsplit(".", 1)[0] if "." in posixpath.basename(path) else path
        out = f"{stem}.{fmt}"
        fs = self.s["fs"]
        _check_writable(out)
        fs[out] = {"kind": "file", "text": node_text(node), "format": fmt}
        return f"exported {out}", {"op": "writer.export", "args": {"path": path, "new_path": out}}, None

    # ---- mail
    def _folder(self, folder: str) -> list[dict]:
        if folder not in ("inbox", "sent", "drafts"):
            raise ToolError("folder must be one of inbox, sent, drafts")
        return self.s["mail"][folder]

    def mail_list(self, folder: str = "inbox") -> tuple[str, None, Any]:
        msgs = self._folder(folder)
        return f"{len(msgs)} messages in {folder}", None, [
            {"id": m["id"], "from": m["from"], "to": m["to"], "subject": m["subject"]} for m in msgs]

    def find_message(self, msg_id: str) -> dict:
        for folder in ("inbox", "sent", "drafts"):
            for m in self.s["mail"][folder]:
                if m["id"] == msg_id:
                    return m
        raise ToolError(f"no message with id {msg_id!r}")

    def mail_read(self, id: str) -> tuple[str, None, Any]:
        m = self.find_message(str(id))
        return f"read message {id}", None, {
            **{k: m[k] for k in ("id", "from", "to", "cc", "subject", "body", "date")},
            "attachments": [a["name"] for a in m["attachments"]]}

    def attachment(self, path: str) -> dict:
        path = norm_path(path)
        node = _get(self.s["fs"], path)
        if node["kind"] == "dir":
            raise ToolError(f"{path} is a folder; attach a file")
        return {"name": posixpath.basename(path), "path": path, "content": node_text(node)}

    def _message(self, prefix: str, to: Any, subject: Any, body: Any, cc: Any, attachments: Any,
                 carried=()) -> dict:
        if attachments is None:
            attachments = []
        if isinstance(attachments, str):
            attachments = [attachments]
        if not isinstance(attachments, list):
            raise ToolError("attachments must be a list of file paths")
        return {"id": self.new_id(prefix), "from": self.s["mail"]["me"], "to": split_addresses(to),
                "cc": split_addresses(cc), "subject": str(subject or ""), "body": str(body or ""),
                "attachments": [dict(a) for a in carried] + [self.attachment(p) for p in attachments],
                "date": "2026-11-22"}

    def _compose(self, to: Any, subject: Any, body: Any, cc: Any, attachments: Any, carried=()) -> dict:
        """A message ready to send (it needs a recipient)."""
        msg = self._message("s", to, subject, body, cc, attachments, carried)
        if not msg["to"]:
            raise ToolError("a message needs at least one recipient in 'to'")
        return msg

    def send(self, msg: dict) -> tuple[str, dict, None]:
        self.s["mail"]["sent"].append(msg)
        args = {"to": msg["to"], "cc": msg["cc"], "subject": msg["subject"],
                "attachments": [a["name"] for a in msg["attachments"]]}
        return f"sent {msg['subject']!r} to {', '.join(msg['to'])}", {"op": "mail.send", "args": args}, None

    def mail_send(self, to: Any, subject: str = "", body: str = "", cc: Any = None,
                  attachments: Any = None) -> tuple[str, dict, None]:
        return self.send(self._compose(to, subject, body, cc, attachments))

    def mail_reply(self, id: str, body: str = "", attachments: Any = None, reply_all: bool = False):
        m = self.find_message(str(id))
        to = [m["from"]]
        cc = [a for a in m["to"] + m["cc"] if a != self.s["mail"]["me"]] if reply_all else []
        subject = m["subject"] if m["subject"].lower().startswith("re:") else f"Re: {m['subject']}"
        return self.send(self._compose(to, subject, body, cc, attachments))

    def mail_forward(self, id: str, to: Any, body: str = "", attachments: Any = None):
        m = self.find_message(str(id))
        subject = f"Fwd: {m['subject']}"
        full = f"{body}\n\n---------- Forwarded message ----------\nFrom: {m['from']}\n{m['body']}".lstrip()
        return self.send(self._compose(to, subject, full, None, attachments, carried=m["attachments"]))

    def mail_save_draft(self, to: Any = "", subject: str = "", body: str = "", cc: Any = None,
                        attachments: Any = None) -> tuple[str, dict, None]:
        return self.save_draft(self.draft(to, subject, body, cc, attachments))

    def draft(self, to: Any, subject: Any, body: Any, cc: Any, attachments: Any, carried=()) -> dict:
        return self._message("d", to, subject, body, cc, attachments, carried)

    def save_draft(self, msg: dict) -> tuple[str, dict, None]:
        self.s["mail"]["drafts"].append(msg)
        return f"saved draft {msg['subject']!r}", {"op": "mail.save_draft", "args": {
            "to": msg["to"], "cc": msg["cc"], "subject": msg["subject"],
            "attachments": [a["name"] for a in msg["attachments"]]}}, None

    def mail_contacts(self) -> tuple[str, None, Any]:
        contacts = self.s["mail"]["contacts"]
        return f"{len(contacts)} contacts", None, [{"name": n, "email": e} for n, e in sorted(contacts.items())]

    def mail_delete(self, id: str) -> tuple[str, dict, None]:
        m = self.find_message(id)
        mail = self.s["mail"]
        for folder in ("inbox", "sent", "drafts"):
            mail[folder] = [x for x in mail[folder] if x is not m]
        return f"deleted message {id}", {"op": "mail.delete", "args": {"id": id, "subject": m["subject"]}}, None

    # ---- calendar
    def _event(self, event: str) -> dict:
        for e in self.s["calendar"]["events"]:
            if e["id"] == event:
                return e
        matches = [e for e in self.s["calendar"]["events"] if e["title"].lower() == str(event).lower()]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ToolError(f"several events are titled {event!r}; use the event id")
        raise ToolError(f"no event {event!r} (give its id or exact title)")

    @staticmethod
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

    def calendar_list(self, date: str | None = None) -> tuple[str, None, Any]:
        evs = [e for e in self.s["calendar"]["events"] if date is None or e["date"] == date]
        return f"{len(evs)} events", None, evs

    def calendar_create(self, title: str, date: str, start: str, end: str, attendees: Any = None):
        title = str(title).strip()
        if not title:
            raise ToolError("an event needs a title")
        date, start, end = self._when(date, start, end)
        ev = {"id": self.new_id("e"), "title": title, "date": date, "start": start, "end": end,
              "attendees": split_addresses(attendees)}
        self.s["calendar"]["events"].append(ev)
        return f"created event {title!r} on {date} {start}-{end}", {
            "op": "calendar.create", "args": {"title": title, "date": date, "start": start, "end": end,
                                              "attendees": ev["attendees"]}}, None

    def calendar_move(self, event: str, date: str, start: str, end: str):
        ev = self._event(str(event))
        ev["date"], ev["start"], ev["end"] = self._when(date, start, end)
        return f"moved {ev['title']!r} to {ev['date']} {ev['start']}-{ev['end']}", {
            "op": "calendar.move", "args": {"title": ev["title"], "date": ev["date"], "start": ev["start"],
                                            "end": ev["end"]}}, None

    def calendar_delete(self, event: str):
        ev = self._event(str(event))
        self.s["calendar"]["events"].remove(ev)
        return f"deleted event {ev['title']!r}", {"op": "calendar.delete", "args": {"title": ev["title"]}}, None

    def calendar_invite(self, event: str, email: Any):
        ev = self._event(str(event))
        added = [a for a in split_addresses(email) if a not in ev["attendees"]]
        if not added:
            raise ToolError("no new attendee to invite")
        ev["attendees"].extend(added)
        return f"invited {', '.join(added)} to {ev['title']!r}", {
            "op": "calendar.invite", "args": {"title": ev["title"], "attendees": added}}, None

    # ---- settings
    def settings_get(self, key: str | None = None):
        st = self.s["settings"]
        if key is None:
            return "all settings", None, {k: st[k] for k in SETTING_KEYS} | {"wifi.available": st["wifi.available"],
                                                                            "users": st["users"]}
        if key not in SETTING_KEYS:
            raise ToolError(f"unknown setting {key!r}; known: {', '.join(SETTING_KEYS)}")
        return f"{key} = {st[key]}", None, st[key]

    def settings_set(self, key: str, value: Any):
        if key not in SETTING_KEYS:
            raise ToolError(f"unknown setting {key!r}; known: {', '.join(SETTING_KEYS)}")
        want = SETTING_KEYS[key]
        if want is bool:
            if isinstance(value, str) and value.lower() in ("true", "on", "yes", "false", "off", "no"):
                value = value.lower() in ("true", "on", "yes")
            if not isinstance(value, bool):
                raise ToolError(f"{key} takes true or false")
        elif want is int:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ToolError(f"{key} takes a whole number") from None
            if not 1 <= value <= 240:
                raise ToolError(f"{key} must be between 1 and 240")
        else:
            value = str(value)
            if key == "wifi.network" and not self.s["settings"]["wifi.enabled"]:
                raise ToolError("Wi-Fi is off; turn it on (wifi.enabled) before choosing a network")
            if key == "wifi.network" and value not in self.s["settings"]["wifi.available"]:
                raise ToolError(f"network {value!r} is not in range; available: "
                                + ", ".join(self.s["settings"]["wifi.available"]))
        self.s["settings"][key] = value
        return f"set {key} = {value}", {"op": "settings.set", "args": {"key": key, "value": value}}, None

    def _user(self, name: str) -> dict:
        for u in self.s["settings"]["users"]:
            if u["name"] == name:
                return u
        raise ToolError(f"no user account {name!r}")

    def settings_add_user(self, name: str, admin: bool = False):
        name = str(name).strip()
        if not name.isidentifier():
            raise ToolError("a user name must be a single word of letters, digits or _")
        if any(u["name"] == name for u in self.s["settings"]["users"]):
            raise ToolError(f"user {name!r} already exists")
        self.s["settings"]["users"].append({"name": name, "admin": bool(admin)})
        return f"added user {name}", {"op": "settings.add_user", "args": {"name": name, "admin": bool(admin)}}, None

    def settings_remove_user(self, name: str):
        u = self._user(str(name))
        if u["name"] == "alex":
            raise ToolError("cannot remove the account you are logged in with")
        self.s["settings"]["users"].remove(u)
        return f"removed user {name}", {"op": "settings.remove_user", "args": {"name": name}}, None

    def settings_set_admin(self, name: str, admin: bool):
        u = self._user(str(name))
        if not isinstance(admin, bool):
            raise ToolError("admin takes true or false")
        u["admin"] = admin
        return f"{name} admin = {admin}", {"op": "settings.set_admin", "args": {"name": name, "admin": admin}}, None


# ----------------------------------------------------------------------------- document edits


def doc_replace(doc: dict, find: str, replace: str) -> str:
    if not find:
        raise ToolError("'find' must not be empty")
    n = 0
    for p in doc["paras"]:
        c = p["text"].count(find)
        if c:
            p["text"] = p["text"].replace(find, replace)
            n += c
    if n == 0:
        raise ToolError(f"{find!r} was not found in the document")
    return f"replaced {n} occurrence(s) of {find!r}"


def find_para(doc: dict, paragraph: Any) -> int:
    paras = doc["paras"]
    if isinstance(paragraph, bool):
        raise ToolError("paragraph must be an index or a piece of its text")
    if isinstance(paragraph, int) or (isinstance(paragraph, str) and paragraph.isascii() and paragraph.isdigit()):
        i = int(paragraph)
        if not 0 <= i < len(paras):
            raise ToolError(f"paragraph index {i} out of range (0..{len(paras) - 1})")
        return i
    hits = [i for i, p in enumerate(paras) if str(paragraph).lower() in p["text"].lower()]
    if not hits:
        raise ToolError(f"no paragraph contains {paragraph!r}")
    return hits[0]


def doc_style(doc: dict, paragraph: Any, *, style: str | None, bold: bool | None, italic: bool | None) -> str:
    i = find_para(doc, paragraph)
    p = doc["paras"][i]
    if style is not None:
        if style not in PARA_STYLES:
            raise ToolError(f"style must be one of {', '.join(PARA_STYLES)}")
        p["style"] = style
    if bold is not None:
        p["bold"] = bool(bold)
    if italic is not None:
        p["italic"] = bool(italic)
    if style is None and bold is None and italic is None:
        raise ToolError("give at least one of style, bold, italic")
    return f"styled paragraph {i}"


def doc_append(doc: dict, text: str) -> str:
    doc["paras"].append({"text": text, "style": "normal", "bold": False, "italic": False})
    return "appended a paragraph"


def doc_table(doc: dict, rows: Any, cols: Any) -> str:
    try:
        rows, cols = int(rows), int(cols)
    except (TypeError, ValueError):
        raise ToolError("rows and cols must be whole numbers") from None
    if not (1 <= rows <= 50 and 1 <= cols <= 20):
        raise ToolError("a table has 1-50 rows and 1-20 columns")
    doc.setdefault("tables", []).append([[""] * cols for _ in range(rows)])
    return f"inserted a {rows}x{cols} table"


# ----------------------------------------------------------------------------- the API registry

API: dict[str, tuple[str, str, dict[str, Any], list[str]]] = {
    # tool name: (World method, description, JSON-schema properties, required)
    "files.list": ("files_list", "List a folder.", {"path": {"type": "string"}}, []),
    "files.read": ("files_read", "Read a file's text.", {"path": {"type": "string"}}, ["path"]),
    "files.search": ("files_search", "Find files whose name contains a query.", {"query": {"type": "string"}}, ["query"]),
    "files.create": ("files_create", "Create a file (a .doc path makes a Writer document).",
                     {"path": {"type": "string"}, "content": {"type": "string"}}, ["path"]),
    "files.mkdir": ("files_mkdir", "Create a folder.", {"path": {"type": "string"}}, ["path"]),
    "files.rename": ("files_rename", "Rename a file or folder in place.",
                     {"path": {"type": "string"}, "new_name": {"type": "string"}}, ["path", "new_name"]),
    "files.move": ("files_move", "Move a file or folder into another folder.",
                   {"path": {"type": "string"}, "dest_dir": {"type": "string"}}, ["path", "dest_dir"]),
    "files.copy": ("files_copy", "Copy a file or folder into another folder.",
                   {"path": {"type": "string"}, "dest_dir": {"type": "string"}}, ["path", "dest_dir"]),
    "files.delete": ("files_delete", "Move a file or folder to the trash.", {"path": {"type": "string"}}, ["path"]),
    "files.restore": ("files_restore", "Restore an item from the trash by name or original path.",
                      {"name": {"type": "string"}}, ["name"]),
    "files.list_trash": ("files_list_trash", "List the trash.", {}, []),
    "files.empty_trash": ("files_empty_trash", "Permanently delete everything in the trash.", {}, []),
    "writer.read": ("writer_read", "Read a document's paragraphs and tables.", {"path": {"type": "string"}}, ["path"]),
    "writer.replace": ("writer_replace", "Find and replace text in a document (all occurrences).",
                       {"path": {"type": "string"}, "find": {"type": "string"}, "replace": {"type": "string"}},
                       ["path", "find", "replace"]),
    "writer.set_style": ("writer_set_style", "Style a paragraph (by index or a piece of its text).",
                         {"path": {"type": "string"}, "paragraph": {"type": ["integer", "string"]},
                          "style": {"type": "string", "enum": list(PARA_STYLES)},
                          "bold": {"type": "boolean"}, "italic": {"type": "boolean"}}, ["path", "paragraph"]),
    "writer.append": ("writer_append", "Append a paragraph to a document.",
                      {"path": {"type": "string"}, "text": {"type": "string"}}, ["path", "text"]),
    "writer.insert_table": ("writer_insert_table", "Insert an empty table.",
                            {"path": {"type": "string"}, "rows": {"type": "integer"}, "cols": {"type": "integer"}},
                            ["path", "rows", "cols"]),
    "writer.save_as": ("writer_save_as", "Save a copy of a document under a new path.",
                       {"path": {"type": "string"}, "new_path": {"type": "string"}}, ["path", "new_path"]),
    "writer.export": ("writer_export", "Export a document as pdf or txt next to it.",
                      {"path": {"type": "string"}, "format": {"type": "string", "enum": ["pdf", "txt"]}}, ["path"]),
    "mail.list": ("mail_list", "List messages of a folder.", {"folder": {"type": "string", "enum": ["inbox", "sent", "drafts"]}}, []),
    "mail.read": ("mail_read", "Read a message.", {"id": {"type": "string"}}, ["id"]),
    "mail.send": ("mail_send", "Send a new message; attachments are file paths.",
                  {"to": {"type": "array", "items": {"type": "string"}}, "cc": {"type": "array", "items": {"type": "string"}},
                   "subject": {"type": "string"}, "body": {"type": "string"},
                   "attachments": {"type": "array", "items": {"type": "string"}}}, ["to"]),
    "mail.reply": ("mail_reply", "Reply to a message.",
                   {"id": {"type": "string"}, "body": {"type": "string"}, "reply_all": {"type": "boolean"},
                    "attachments": {"type": "array", "items": {"type": "string"}}}, ["id"]),
    "mail.forward": ("mail_forward", "Forward a message with its attachments.",
                     {"id": {"type": "string"}, "to": {"type": "array", "items": {"type": "string"}},
                      "body": {"type": "string"}, "attachments": {"type": "array", "items": {"type": "string"}}},
                     ["id", "to"]),
    "mail.save_draft": ("mail_save_draft", "Save a message as a draft without sending it.",
                        {"to": {"type": "array", "items": {"type": "string"}},
                         "cc": {"type": "array", "items": {"type": "string"}}, "subject": {"type": "string"},
                         "body": {"type": "string"}, "attachments": {"type": "array", "items": {"type": "string"}}}, []),
    "mail.contacts": ("mail_contacts", "List the address book (names and email addresses).", {}, []),
    "mail.delete": ("mail_delete", "Delete a message.", {"id": {"type": "string"}}, ["id"]),
    "calendar.list": ("calendar_list", "List events (optionally of one date).", {"date": {"type": "string"}}, []),
    "calendar.create": ("calendar_create", "Create an event.",
                        {"title": {"type": "string"}, "date": {"type": "string", "description": "YYYY-MM-DD"},
                         "start": {"type": "string", "description": "HH:MM"}, "end": {"type": "string"},
                         "attendees": {"type": "array", "items": {"type": "string"}}},
                        ["title", "date", "start", "end"]),
    "calendar.move": ("calendar_move", "Move an event (by id or exact title) to a new date and time.",
                      {"event": {"type": "string"}, "date": {"type": "string"}, "start": {"type": "string"},
                       "end": {"type": "string"}}, ["event", "date", "start", "end"]),
    "calendar.delete": ("calendar_delete", "Delete an event (by id or exact title).", {"event": {"type": "string"}}, ["event"]),
    "calendar.invite": ("calendar_invite", "Invite attendees to an event.",
                        {"event": {"type": "string"}, "email": {"type": "array", "items": {"type": "string"}}},
                        ["event", "email"]),
    "settings.get": ("settings_get", "Read one setting or all of them.", {"key": {"type": "string"}}, []),
    "settings.set": ("settings_set", "Change a setting: " + ", ".join(SETTING_KEYS) + ".",
                     {"key": {"type": "string", "enum": list(SETTING_KEYS)},
                      "value": {"type": ["boolean", "integer", "string"]}}, ["key", "value"]),
    "settings.add_user": ("settings_add_user", "Add a user account.",
                          {"name": {"type": "string"}, "admin": {"type": "boolean"}}, ["name"]),
    "settings.remove_user": ("settings_remove_user", "Remove a user account.", {"name": {"type": "string"}}, ["name"]),
    "settings.set_admin": ("settings_set_admin", "Grant or revoke administrator rights.",
                           {"name": {"type": "string"}, "admin": {"type": "boolean"}}, ["name", "admin"]),
}


def api_tool_definitions() -> list[dict[str, Any]]:
    """OpenAI-style definitions of the mock OS app tools (used through the ``call`` action)."""
    return [
        {"type": "function", "function": {"name": name, "description": desc,
                                          "parameters": {"type": "object", "properties": props, "required": req}}}
        for name, (_m, desc, props, req) in API.items()
    ]


def call_api(world: World, tool: str, args: dict[str, Any]) -> tuple[str, dict | None, Any]:
    """Invoke an API tool by name; unknown tools and bad arguments raise ToolError."""
    entry = API.get(tool)
    if entry is None:
        close = fnmatch.filter(API, f"*{tool.split('.')[-1]}*")
        hint = f" Did you mean {', '.join(close[:3])}?" if close else ""
        raise ToolError(f"unknown tool {tool!r}.{hint} Tools: {', '.join(API)}")
    method, _d, props, required = entry
    missing = [r for r in required if r not in args]
    if missing:
        raise ToolError(f"{tool} is missing argument(s): {', '.join(missing)}")
    unknown = [a for a in args if a not in props]
    if unknown:
        raise ToolError(f"{tool} got unknown argument(s): {', '.join(unknown)}; it takes {', '.join(props) or 'none'}")
    for name, value in args.items():
        problem = _type_problem(value, props[name])
        if problem:
            raise ToolError(f"{tool}: argument {name!r} {problem}")
    return getattr(world, method)(**args)


_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**53,
}


def _type_problem(value: Any, schema: dict[str, Any]) -> str | None:
    """Why ``value`` does not fit the JSON-schema ``schema`` (string/boolean/integer/array/enum), or None."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "array" in kinds:
        item = schema.get("items", {}).get("type", "string")
        # A single string is accepted where a list of strings is expected (e.g. one recipient).
        if isinstance(value, str) and item == "string":
            return None
        if not isinstance(value, list) or not all(_JSON_TYPES[item](v) for v in value):
            return f"must be a list of {item}s"
        return None
    if not any(_JSON_TYPES[k](value) for k in kinds):
        return f"must be {' or '.join(kinds)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"must be one of {', '.join(map(str, schema['enum']))}"
    return None
