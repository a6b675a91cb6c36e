"""Writer: document edits (the World's ``writer.*`` tools) and the Writer window, which edits a buffer that
Save writes back."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from lambench.sandboxes.mockos.core import (
    ToolError,
    check_writable,
    clone_node,
    get_doc,
    make_doc,
    node_text,
    norm_path,
    parent_must_exist,
)
from lambench.sandboxes.mockos.tools import string, tool
from lambench.sandboxes.mockos.view import Control, Window

PARA_STYLES = ("normal", "heading1", "heading2")


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


# ----------------------------------------------------------------------------- the tools


class WriterApi:
    """The ``writer.*`` tools of the World (a mixin: ``self.s`` is the state)."""

    s: dict[str, Any]

    @tool("writer.read", "Read a document's paragraphs and tables.", {"path": string()})
    def writer_read(self, path: str) -> tuple[str, None, Any]:
        path = norm_path(path)
        node = get_doc(self.s["fs"], path)
        doc = node if node["kind"] == "doc" else make_doc(node.get("text", ""))
        return f"read {path}", None, {"paras": doc["paras"], "tables": doc.get("tables", [])}

    def _edit_doc(self, path: str, fn: Callable[[dict], str], op: str, args: dict) -> tuple[str, dict, None]:
        path = norm_path(path)
        fs = self.s["fs"]
        node = get_doc(fs, path)
        check_writable(path)
        doc = clone_node(node) if node["kind"] == "doc" else make_doc(node.get("text", ""))
        msg = fn(doc)
        fs[path] = doc if path.endswith(".doc") or node["kind"] == "doc" else {"kind": "file", "text": node_text(doc)}
        return msg, {"op": op, "args": {"path": path, **args}}, None

    @tool("writer.replace", "Find and replace text in a document (all occurrences).",
          {"path": string(), "find": string(), "replace": string()})
    def writer_replace(self, path: str, find: str, replace: str) -> tuple[str, dict, None]:
        find, replace = str(find), str(replace)
        return self._edit_doc(path, lambda d: doc_replace(d, find, replace), "writer.replace",
                              {"find": find, "replace": replace})

    @tool("writer.set_style", "Style a paragraph (by index or a piece of its text).",
          {"path": string(), "paragraph": {"type": ["integer", "string"]},
           "style": string(enum=list(PARA_STYLES)), "bold": {"type": "boolean"}, "italic": {"type": "boolean"}})
    def writer_set_style(self, path: str, paragraph: Any, style: str | None = None,
                         bold: bool | None = None, italic: bool | None = None) -> tuple[str, dict, None]:
        return self._edit_doc(path, lambda d: doc_style(d, paragraph, style=style, bold=bold, italic=italic),
                              "writer.set_style", {"paragraph": paragraph, "style": style, "bold": bold, "italic": italic})

    @tool("writer.append", "Append a paragraph to a document.", {"path": string(), "text": string()})
    def writer_append(self, path: str, text: str) -> tuple[str, dict, None]:
        text = str(text)
        return self._edit_doc(path, lambda d: doc_append(d, text), "writer.append", {"text": text})

    @tool("writer.insert_table", "Insert an empty table.",
          {"path": string(), "rows": {"type": "integer"}, "cols": {"type": "integer"}})
    def writer_insert_table(self, path: str, rows: int, cols: int) -> tuple[str, dict, None]:
        return self._edit_doc(path, lambda d: doc_table(d, rows, cols), "writer.insert_table",
                              {"rows": rows, "cols": cols})

    @tool("writer.save_as", "Save a copy of a document under a new path.", {"path": string(), "new_path": string()})
    def writer_save_as(self, path: str, new_path: str) -> tuple[str, dict, None]:
        path, new_path = norm_path(path), norm_path(new_path)
        node = get_doc(self.s["fs"], path)
        return self.write_doc(new_path, node, op="writer.save_as", overwrite=False, src=path)

    def write_doc(self, path: str, doc: dict, *, op: str, overwrite: bool, src: str | None = None):
        fs = self.s["fs"]
        check_writable(path)
        parent_must_exist(fs, path)
        if path in fs and not overwrite:
            raise ToolError(f"{path} already exists")
        if path.endswith(".doc"):
            fs[path] = clone_node(doc) if doc["kind"] == "doc" else make_doc(doc.get("text", ""))
        else:
            fs[path] = {"kind": "file", "text": node_text(doc)}
        args = {"path": path} if src is None else {"path": src, "new_path": path}
        return f"saved {path}", {"op": op, "args": args}, None

    @tool("writer.export", "Export a document as pdf or txt next to it.",
          {"path": string(), "format": string(enum=["pdf", "txt"])})
    def writer_export(self, path: str, format: str = "pdf") -> tuple[str, dict, None]:
        path = norm_path(path)
        fmt = str(format).lower()
        if fmt not in ("pdf", "txt"):
            raise ToolError("format must be 'pdf' or 'txt'")
        node = get_doc(self.s["fs"], path)
        stem = path.rsplit(".", 1)[0] if "." in posixpath.basename(path) else path
        out = f"{stem}.{fmt}"
        fs = self.s["fs"]
        check_writable(out)
        fs[out] = {"kind": "file", "text": node_text(node), "format": fmt}
        return f"exported {out}", {"op": "writer.export", "args": {"path": path, "new_path": out}}, None


# ----------------------------------------------------------------------------- the window


class WriterWindow(Window):
    """The Writer window: the open document's buffer, its paragraphs as a list, the editing buttons.
    Edits change the buffer; their canonical ops are logged when it is saved."""

    app = "writer"

    def initial(self) -> dict[str, Any]:
        return {"path": None, "doc": None, "selected": None, "dirty": False, "pending": [],
                "fields": {"File name": "", "Find": "", "Replace with": "", "New paragraph": "",
                           "Rows": "", "Columns": "", "Save as path": ""}, "scroll": 0}

    def subtitle(self) -> str:
        u = self.u
        if not u["path"]:
            return ""
        return f" — {u['path']}" + (" (unsaved)" if u["dirty"] else "")

    def hotkey(self, keys: str) -> str | None:
        return self.save() if keys == "ctrl+s" else None

    def open_doc(self, path: str) -> str:
        node = self.world.s["fs"].get(path)
        if node is None or node["kind"] == "dir":
            raise ToolError(f"no document at {path}")
        doc = clone_node(node) if node["kind"] == "doc" else make_doc(node.get("text", ""))
        self.u.update(path=path, doc=doc, selected=None, dirty=False, scroll=0, pending=[])
        self.desk.open("writer")
        return f"opened {path} in Writer"

    def view(self) -> list[Control]:
        u = self.u
        c = [self.field("File name"), self.c("button", "Open", on_click=self.open_field)]
        if u["doc"] is None:
            return c + [self.c("text", "No document open", "type a path into File name and click Open")]
        c += [self.field("Find"), self.field("Replace with"),
              self.c("button", "Replace all", on_click=self.replace)]
        for style, name in (("heading1", "Heading 1"), ("heading2", "Heading 2"), ("normal", "Normal text")):
            c.append(self.c("button", name, on_click=(lambda s=style: self.style(style=s))))
        c += [self.c("button", "Bold", on_click=lambda: self.style(toggle="bold")),
              self.c("button", "Italic", on_click=lambda: self.style(toggle="italic")),
              self.field("New paragraph"),
              self.c("button", "Add paragraph", on_click=self.add),
              self.field("Rows"), self.field("Columns"),
              self.c("button", "Insert table", on_click=self.table),
              self.c("button", "Save", "unsaved changes" if u["dirty"] else "", on_click=self.save),
              self.field("Save as path"),
              self.c("button", "Save as", on_click=self.save_as),
              self.c("button", "Export PDF", on_click=self.export),
              self.c("text", "Tables", str(len(u["doc"].get("tables", []))))]
        return c + self.paged("paragraphs", self._paragraphs())

    def _paragraphs(self) -> list[Control]:
        u = self.u
        items = []
        for i, p in enumerate(u["doc"]["paras"]):
            flags = [p["style"]] + [f for f in ("bold", "italic") if p[f]]
            if u["selected"] == i:
                flags.insert(0, "selected")
            text = p["text"] if len(p["text"]) <= 80 else p["text"][:77] + "..."

            def edit(new: str, i: int = i) -> str:
                def apply(d: dict) -> str:
                    d["paras"][i]["text"] = new
                    return f"paragraph {i} edited"
                return self.edit(apply, "writer.edit_paragraph", {"paragraph": i, "text": new})

            items.append(Control("paragraph", text, ", ".join(flags),
                                 on_click=(lambda i=i: self.select_para(i)), on_type=edit))
        return items

    def open_field(self) -> str:
        name = self.u["fields"]["File name"]
        if not name:
            raise ToolError("type a document path into File name first")
        return self.open_doc(norm_path(name))

    def select_para(self, i: int) -> str:
        self.u["selected"] = i
        return f"selected paragraph {i}"

    def edit(self, fn: Callable[[dict], str], op: str, args: dict[str, Any]) -> str:
        """Edit the open document's buffer; the canonical op is logged when the edit is saved,
        exactly as the API logs it when it edits the file."""
        u = self.u
        msg = fn(u["doc"])
        u["dirty"] = True
        u["pending"].append({"op": op, "args": args})
        return msg + " (unsaved)"

    def _flush_pending(self, path: str) -> None:
        u = self.u
        self.desk.ops.extend({"op": p["op"], "args": {"path": path, **p["args"]}} for p in u["pending"])
        u["pending"] = []

    def replace(self) -> str:
        f = self.u["fields"]
        find, rep = f["Find"], f["Replace with"]
        return self.edit(lambda d: doc_replace(d, find, rep), "writer.replace", {"find": find, "replace": rep})

    def style(self, *, style: str | None = None, toggle: str | None = None) -> str:
        u = self.u
        if u["selected"] is None:
            raise ToolError("select a paragraph first (click it)")
        i = u["selected"]
        if toggle:
            cur = u["doc"]["paras"][i][toggle]
            kw = {"style": None, "bold": None, "italic": None, toggle: not cur}
        else:
            kw = {"style": style, "bold": None, "italic": None}
        return self.edit(lambda d: doc_style(d, i, **kw), "writer.set_style", {"paragraph": i, **kw})

    def add(self) -> str:
        f = self.u["fields"]
        if not f["New paragraph"]:
            raise ToolError("type the paragraph's text into New paragraph first")
        text = f["New paragraph"]
        f["New paragraph"] = ""
        return self.edit(lambda d: doc_append(d, text), "writer.append", {"text": text})

    def table(self) -> str:
        f = self.u["fields"]
        rows, cols = f["Rows"] or 0, f["Columns"] or 0
        return self.edit(lambda d: doc_table(d, rows, cols), "writer.insert_table", {"rows": rows, "cols": cols})

    def save(self) -> str:
        u = self.u
        if u["doc"] is None:
            raise ToolError("no document is open")
        msg, op, _ = self.world.write_doc(u["path"], u["doc"], op="writer.save", overwrite=True)
        self._flush_pending(u["path"])
        self.desk.ops.append(op)
        u["dirty"] = False
        return msg

    def save_as(self) -> str:
        u = self.u
        target = u["fields"]["Save as path"]
        if not target:
            raise ToolError("type the new path into Save as path first")
        new = norm_path(target)
        msg, op, _ = self.world.write_doc(new, u["doc"], op="writer.save_as", overwrite=False, src=u["path"])
        self._flush_pending(new)
        self.desk.ops.append(op)
        u.update(path=new, dirty=False)
        return msg

    def export(self) -> str:
        u = self.u
        if u["dirty"]:
            self.save()
        return self.api("writer.export", path=u["path"], format="pdf")
