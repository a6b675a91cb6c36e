"""Mail: messages and contacts (the World's ``mail.*`` tools) and the Mail window with its compose form."""

from __future__ import annotations

import posixpath
from typing import Any

from lambench.sandboxes.mockos.core import ToolError, get_node, node_text, norm_path, split_addresses
from lambench.sandboxes.mockos.tools import string, strings, tool
from lambench.sandboxes.mockos.view import Control, Window

FOLDERS = ("inbox", "sent", "drafts")


class MailApi:
    """The ``mail.*`` tools of the World (a mixin: ``self.s`` is the state, ``self.new_id`` makes ids)."""

    s: dict[str, Any]

    def _folder(self, folder: str) -> list[dict]:
        if folder not in FOLDERS:
            raise ToolError("folder must be one of inbox, sent, drafts")
        return self.s["mail"][folder]

    @tool("mail.list", "List messages of a folder.", {"folder": string(enum=["inbox", "sent", "drafts"])})
    def mail_list(self, folder: str = "inbox") -> tuple[str, None, Any]:
        msgs = self._folder(folder)
        return f"{len(msgs)} messages in {folder}", None, [
            {"id": m["id"], "from": m["from"], "to": m["to"], "subject": m["subject"]} for m in msgs]

    def find_message(self, msg_id: str) -> dict:
        for folder in FOLDERS:
            for m in self.s["mail"][folder]:
                if m["id"] == msg_id:
                    return m
        raise ToolError(f"no message with id {msg_id!r}")

    @tool("mail.read", "Read a message.", {"id": string()})
    def mail_read(self, id: str) -> tuple[str, None, Any]:
        m = self.find_message(str(id))
        return f"read message {id}", None, {
            **{k: m[k] for k in ("id", "from", "to", "cc", "subject", "body", "date")},
            "attachments": [a["name"] for a in m["attachments"]]}

    def attachment(self, path: str) -> dict:
        path = norm_path(path)
        node = get_node(self.s["fs"], path)
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

    def compose(self, to: Any, subject: Any, body: Any, cc: Any, attachments: Any, carried=()) -> dict:
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

    @tool("mail.send", "Send a new message; attachments are file paths.",
          {"to": strings(), "cc": strings(), "subject": string(), "body": string(), "attachments": strings()})
    def mail_send(self, to: Any, subject: str = "", body: str = "", cc: Any = None,
                  attachments: Any = None) -> tuple[str, dict, None]:
        return self.send(self.compose(to, subject, body, cc, attachments))

    @tool("mail.reply", "Reply to a message.",
          {"id": string(), "body": string(), "reply_all": {"type": "boolean"}, "attachments": strings()})
    def mail_reply(self, id: str, body: str = "", attachments: Any = None, reply_all: bool = False):
        m = self.find_message(str(id))
        to = [m["from"]]
        cc = [a for a in m["to"] + m["cc"] if a != self.s["mail"]["me"]] if reply_all else []
        subject = m["subject"] if m["subject"].lower().startswith("re:") else f"Re: {m['subject']}"
        return self.send(self.compose(to, subject, body, cc, attachments))

    @tool("mail.forward", "Forward a message with its attachments.",
          {"id": string(), "to": strings(), "body": string(), "attachments": strings()})
    def mail_forward(self, id: str, to: Any, body: str = "", attachments: Any = None):
        m = self.find_message(str(id))
        subject = f"Fwd: {m['subject']}"
        full = f"{body}\n\n---------- Forwarded message ----------\nFrom: {m['from']}\n{m['body']}".lstrip()
        return self.send(self.compose(to, subject, full, None, attachments, carried=m["attachments"]))

    @tool("mail.save_draft", "Save a message as a draft without sending it.",
          {"to": strings(), "cc": strings(), "subject": string(), "body": string(), "attachments": strings()})
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

    @tool("mail.contacts", "List the address book (names and email addresses).")
    def mail_contacts(self) -> tuple[str, None, Any]:
        contacts = self.s["mail"]["contacts"]
        return f"{len(contacts)} contacts", None, [{"name": n, "email": e} for n, e in sorted(contacts.items())]

    @tool("mail.delete", "Delete a message.", {"id": string()})
    def mail_delete(self, id: str) -> tuple[str, dict, None]:
        m = self.find_message(id)
        mail = self.s["mail"]
        for folder in FOLDERS:
            mail[folder] = [x for x in mail[folder] if x is not m]
        return f"deleted message {id}", {"op": "mail.delete", "args": {"id": id, "subject": m["subject"]}}, None


class MailWindow(Window):
    """The Mail window: a folder's messages and the selected one, or the compose form."""

    app = "mail"

    def initial(self) -> dict[str, Any]:
        return {"folder": "inbox", "selected": None, "compose": None, "scroll": 0}

    def subtitle(self) -> str:
        return " — composing" if self.u["compose"] is not None else f" — {self.u['folder']}"

    def hotkey(self, keys: str) -> str | None:
        return self.new_message() if keys == "ctrl+n" else None

    def dismiss(self) -> str | None:
        if self.u["compose"] is None:
            return None
        self.u["compose"] = None
        return "message discarded"

    def view(self) -> list[Control]:
        u = self.u
        if u["compose"] is not None:
            return self._compose_view(u["compose"])
        c = [self.c("tab", t.capitalize(), "selected" if u["folder"] == t else "",
                    on_click=(lambda t=t: self.folder(t))) for t in FOLDERS]
        c += [self.c("button", "Compose", on_click=self.new_message),
              self.c("button", "Reply", on_click=self.reply),
              self.c("button", "Forward", on_click=self.forward),
              self.c("button", "Delete message", on_click=self.delete)]
        msgs = self.world.s["mail"][u["folder"]]
        sel = None
        for m in msgs:
            if m["id"] == u["selected"]:
                sel = m
        if sel is not None:
            atts = ", ".join(a["name"] for a in sel["attachments"]) or "none"
            c.append(self.c("text", "Message", f"From: {sel['from']} | To: {', '.join(sel['to'])} | Subject: "
                                               f"{sel['subject']} | Attachments: {atts} | {sel['body']}"))
        items = [Control("listitem", m["subject"] or "(no subject)",
                         ("selected, " if m["id"] == u["selected"] else "")
                         + (f"from {m['from']}" if u["folder"] == "inbox" else f"to {', '.join(m['to'])}"),
                         on_click=(lambda i=m["id"]: self.select(i))) for m in reversed(msgs)]
        return c + self.paged("messages", items)

    def _compose_view(self, comp: dict) -> list[Control]:
        def field(name: str) -> Control:
            def set_text(text: str) -> str:
                self.u["compose"][name] = text
                return f"typed into {name}"
            return self.c("edit", name, comp[name], on_type=set_text, scope="compose")

        return [field("To"), field("Cc"), field("Subject"), field("Body"), field("Attachment path"),
                self.c("button", "Attach", on_click=self.attach),
                self.c("text", "Attachments", ", ".join(a["name"] for a in comp["atts"]) or "none"),
                *([self.c("text", "Quoted message", comp["quoted"][:300])] if comp["quoted"] else []),
                self.c("button", "Send", on_click=self.send),
                self.c("button", "Save draft", on_click=self.save_draft),
                self.c("button", "Discard", on_click=self.discard),
                self.c("text", "Contacts", "; ".join(f"{n} <{e}>" for n, e in
                                                     sorted(self.world.s["mail"]["contacts"].items())))]

    def folder(self, folder: str) -> str:
        self.u.update(folder=folder, selected=None, scroll=0)
        return f"showing {folder}"

    def _new_compose(self, **kw: Any) -> dict:
        comp = {"To": "", "Cc": "", "Subject": "", "Body": "", "Attachment path": "", "atts": [], "quoted": ""}
        comp.update(kw)
        self.u["compose"] = comp
        return comp

    def new_message(self) -> str:
        self._new_compose()
        return "new message"

    def _selected(self) -> dict:
        return self.world.find_message(self.picked("selected", "a message"))

    def reply(self) -> str:
        m = self._selected()
        subj = m["subject"] if m["subject"].lower().startswith("re:") else f"Re: {m['subject']}"
        self._new_compose(To=m["from"], Subject=subj)
        return f"replying to {m['from']}"

    def forward(self) -> str:
        m = self._selected()
        quoted = f"---------- Forwarded message ----------\nFrom: {m['from']}\n{m['body']}"
        self._new_compose(Subject=f"Fwd: {m['subject']}", quoted=quoted, atts=[dict(a) for a in m["attachments"]])
        return f"forwarding {m['subject']!r}"

    def delete(self) -> str:
        m = self._selected()
        self.u["selected"] = None
        return self.api("mail.delete", id=m["id"])

    def attach(self) -> str:
        comp = self.u["compose"]
        if not comp["Attachment path"]:
            raise ToolError("type a file path into Attachment path first")
        att = self.world.attachment(comp["Attachment path"])
        comp["atts"].append(att)
        comp["Attachment path"] = ""
        return f"attached {att['name']}"

    @staticmethod
    def _body(comp: dict) -> str:
        """The typed body, followed by the quoted original when forwarding (as ``mail.forward`` does)."""
        return f"{comp['Body']}\n\n{comp['quoted']}".lstrip() if comp["quoted"] else comp["Body"]

    def send(self) -> str:
        comp = self.u["compose"]
        msg = self.world.compose(comp["To"], comp["Subject"], self._body(comp), comp["Cc"], [], carried=comp["atts"])
        return self._file(self.world.send(msg))

    def save_draft(self) -> str:
        comp = self.u["compose"]
        draft = self.world.draft(comp["To"], comp["Subject"], self._body(comp), comp["Cc"], [], carried=comp["atts"])
        return self._file(self.world.save_draft(draft))

    def _file(self, done: tuple[str, dict, None]) -> str:
        """Log a sent or drafted message's op and close the form."""
        text, op, _ = done
        self.desk.ops.append(op)
        self.u["compose"] = None
        return text

    def discard(self) -> str:
        self.u["compose"] = None
        return "message discarded"
