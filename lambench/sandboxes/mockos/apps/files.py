"""Files: the file tree and the trash (the World's ``files.*`` tools) and the Files window."""

from __future__ import annotations

import posixpath
from typing import Any

from lambench.sandboxes.mockos.core import (
    HOME,
    ToolError,
    check_movable,
    check_writable,
    clone_node,
    get_node,
    make_node,
    node_text,
    norm_path,
    parent_must_exist,
    subtree,
)
from lambench.sandboxes.mockos.tools import string, tool
from lambench.sandboxes.mockos.view import Control, Window


class FilesApi:
    """The ``files.*`` tools of the World (a mixin: ``self.s`` is the state)."""

    s: dict[str, Any]

    def children(self, path: str) -> list[str]:
        pre = path.rstrip("/") + "/"
        return [p for p in self.s["fs"] if p.startswith(pre) and "/" not in p[len(pre):] and p != path]

    @tool("files.list", "List a folder.", {"path": string()})
    def files_list(self, path: str = HOME) -> tuple[str, None, Any]:
        path = norm_path(path)
        if get_node(self.s["fs"], path)["kind"] != "dir":
            raise ToolError(f"{path} is not a folder")
        entries = sorted(self.children(path))
        data = [{"name": posixpath.basename(p), "path": p, "kind": self.s["fs"][p]["kind"]} for p in entries]
        return f"{len(data)} entries in {path}", None, data

    @tool("files.read", "Read a file's text.", {"path": string()})
    def files_read(self, path: str) -> tuple[str, None, Any]:
        path = norm_path(path)
        node = get_node(self.s["fs"], path)
        if node["kind"] == "dir":
            raise ToolError(f"{path} is a folder; use files.list")
        return f"read {path}", None, node_text(node)

    @tool("files.search", "Find files whose name contains a query.", {"query": string()})
    def files_search(self, query: str) -> tuple[str, None, Any]:
        q = str(query).lower()
        hits = sorted(p for p, n in self.s["fs"].items()
                      if n["kind"] != "dir" and q in posixpath.basename(p).lower())
        return f"{len(hits)} files match {query!r}", None, hits

    def _new_path(self, path: Any) -> str:
        """A normalised path where a new file or folder may be created."""
        path = norm_path(path)
        check_writable(path)
        parent_must_exist(self.s["fs"], path)
        if path in self.s["fs"]:
            raise ToolError(f"{path} already exists")
        return path

    @tool("files.create", "Create a file (a .doc path makes a Writer document).",
          {"path": string(), "content": string()})
    def files_create(self, path: str, content: str = "") -> tuple[str, dict, None]:
        path = self._new_path(path)
        self.s["fs"][path] = make_node(path, str(content))
        return f"created {path}", {"op": "files.create", "args": {"path": path}}, None

    @tool("files.mkdir", "Create a folder.", {"path": string()})
    def files_mkdir(self, path: str) -> tuple[str, dict, None]:
        path = self._new_path(path)
        self.s["fs"][path] = {"kind": "dir"}
        return f"created folder {path}", {"op": "files.mkdir", "args": {"path": path}}, None

    def _relocate(self, src: str, dst: str, *, keep: bool) -> None:
        fs = self.s["fs"]
        for p in sorted(subtree(fs, src)):
            node = fs[p] if keep else fs.pop(p)
            fs[dst + p[len(src):]] = clone_node(node) if keep else node

    @tool("files.rename", "Rename a file or folder in place.", {"path": string(), "new_name": string()})
    def files_rename(self, path: str, new_name: str) -> tuple[str, dict, None]:
        path = norm_path(path)
        fs = self.s["fs"]
        get_node(fs, path)
        check_movable(path)
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
        check_writable(dst)
        return dst

    @tool("files.move", "Move a file or folder into another folder.", {"path": string(), "dest_dir": string()})
    def files_move(self, path: str, dest_dir: str) -> tuple[str, dict, None]:
        path = norm_path(path)
        get_node(self.s["fs"], path)
        check_movable(path)
        dst = self._dest(path, dest_dir)
        self._relocate(path, dst, keep=False)
        return f"moved {path} to {dst}", {"op": "files.move", "args": {"path": path, "new_path": dst}}, None

    @tool("files.copy", "Copy a file or folder into another folder.", {"path": string(), "dest_dir": string()})
    def files_copy(self, path: str, dest_dir: str) -> tuple[str, dict, None]:
        path = norm_path(path)
        get_node(self.s["fs"], path)
        dst = self._dest(path, dest_dir)
        self._relocate(path, dst, keep=True)
        return f"copied {path} to {dst}", {"op": "files.copy", "args": {"path": path, "new_path": dst}}, None

    @tool("files.delete", "Move a file or folder to the trash.", {"path": string()})
    def files_delete(self, path: str) -> tuple[str, dict, None]:
        path = norm_path(path)
        fs = self.s["fs"]
        get_node(fs, path)
        check_movable(path)
        nodes = {p[len(path):] or ".": fs.pop(p) for p in sorted(subtree(fs, path))}
        self.s["trash"].append({"name": posixpath.basename(path), "orig": path, "nodes": nodes})
        return f"moved {path} to the trash", {"op": "files.delete", "args": {"path": path}}, None

    @tool("files.restore", "Restore an item from the trash by name or original path.", {"name": string()})
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

    @tool("files.list_trash", "List the trash.")
    def files_list_trash(self) -> tuple[str, None, Any]:
        return f"{len(self.s['trash'])} items in the trash", None, [
            {"name": e["name"], "orig": e["orig"]} for e in self.s["trash"]]

    @tool("files.empty_trash", "Permanently delete everything in the trash.")
    def files_empty_trash(self) -> tuple[str, dict, None]:
        n = len(self.s["trash"])
        names = [e["orig"] for e in self.s["trash"]]
        self.s["trash"] = []
        return f"permanently deleted {n} items", {"op": "files.empty_trash", "args": {"paths": names}}, None


class FilesWindow(Window):
    """The Files window: a folder's entries or the trash, with the buttons that act on the selected item."""

    app = "files"

    def initial(self) -> dict[str, Any]:
        return {"cwd": f"{HOME}/Documents", "selected": None, "clip": None, "trash_view": False,
                "fields": {"Location": "", "Name": ""}, "scroll": 0}

    def subtitle(self) -> str:
        return " — Trash" if self.u["trash_view"] else f" — {self.u['cwd']}"

    def hotkey(self, keys: str) -> str | None:
        if keys != "delete":
            return None
        if self.u["trash_view"]:
            raise ToolError("items in the trash are deleted for good with Empty trash")
        return self.delete()

    def view(self) -> list[Control]:
        u = self.u
        c = [self.field("Location"), self.c("button", "Go", on_click=self.go),
             self.c("button", "Up", on_click=self.up)]
        if u["trash_view"]:
            c += [self.c("button", "Back to files", on_click=self.toggle_trash),
                  self.c("button", "Restore", on_click=self.restore),
                  self.c("button", "Empty trash", on_click=self.empty)]
            items = [Control("listitem", e["name"], ("selected, " if u["selected"] == e["name"] else "")
                             + f"from {posixpath.dirname(e['orig'])}",
                             on_click=(lambda n=e["name"]: self.select(n)))
                     for e in self.world.s["trash"]]
            return c + self.paged("trash", items)
        c += [self.field("Name"),
              self.c("button", "Open", on_click=self.open),
              self.c("button", "New folder", on_click=self.new_folder),
              self.c("button", "New file", on_click=self.new_file),
              self.c("button", "Rename", on_click=self.rename),
              self.c("button", "Copy", on_click=lambda: self.clip("copy")),
              self.c("button", "Cut", on_click=lambda: self.clip("cut")),
              self.c("button", "Paste", on_click=self.paste),
              self.c("button", "Delete", on_click=self.delete),
              self.c("button", "Trash", f"{len(self.world.s['trash'])} items", on_click=self.toggle_trash)]
        fs = self.world.s["fs"]
        items = []
        for p in sorted(self.world.children(u["cwd"]), key=lambda p: (fs[p]["kind"] != "dir", p.lower())):
            name = posixpath.basename(p)
            if name.startswith("."):
                continue
            kind = "folder" if fs[p]["kind"] == "dir" else ("document" if fs[p]["kind"] == "doc" else "file")
            sel = "selected, " if u["selected"] == name else ""
            items.append(Control("listitem", name, sel + kind, on_click=(lambda n=name: self.select(n))))
        return c + self.paged("entries", items)

    def selected_path(self) -> str:
        u = self.u
        if u["selected"] is None:
            raise ToolError("select an item first (click it in the list)")
        path = posixpath.join(u["cwd"], u["selected"])
        if path not in self.world.s["fs"]:
            u["selected"] = None
            raise ToolError(f"{path} no longer exists; select an item again")
        return path

    def go(self) -> str:
        u = self.u
        path = norm_path(u["fields"]["Location"] or u["cwd"])
        if self.world.s["fs"].get(path, {}).get("kind") != "dir":
            raise ToolError(f"{path} is not a folder")
        u.update(cwd=path, selected=None, scroll=0, trash_view=False)
        return f"showing {path}"

    def up(self) -> str:
        u = self.u
        u.update(cwd=posixpath.dirname(u["cwd"]) or "/", selected=None, scroll=0)
        return f"showing {u['cwd']}"

    def open(self) -> str:
        path = self.selected_path()
        if self.world.s["fs"][path]["kind"] == "dir":
            self.u.update(cwd=path, selected=None, scroll=0)
            return f"showing {path}"
        return self.desk.windows["writer"].open_doc(path)

    def _create(self, tool_name: str, what: str) -> str:
        u = self.u
        if not u["fields"]["Name"]:
            raise ToolError(f"type the new {what}'s name into Name first")
        return self.api(tool_name, path=posixpath.join(u["cwd"], u["fields"]["Name"]))

    def new_folder(self) -> str:
        return self._create("files.mkdir", "folder")

    def new_file(self) -> str:
        return self._create("files.create", "file")

    def rename(self) -> str:
        path = self.selected_path()
        u = self.u
        if not u["fields"]["Name"]:
            raise ToolError("type the new name into Name first")
        msg = self.api("files.rename", path=path, new_name=u["fields"]["Name"])
        u["selected"] = u["fields"]["Name"]
        return msg

    def clip(self, mode: str) -> str:
        path = self.selected_path()
        self.u["clip"] = (path, mode)
        return f"{mode} {path}"

    def paste(self) -> str:
        u = self.u
        if u["clip"] is None:
            raise ToolError("nothing to paste: copy or cut an item first")
        path, mode = u["clip"]
        if mode == "cut":
            u["clip"] = None
            return self.api("files.move", path=path, dest_dir=u["cwd"])
        return self.api("files.copy", path=path, dest_dir=u["cwd"])

    def delete(self) -> str:
        path = self.selected_path()
        msg = self.api("files.delete", path=path)
        self.u["selected"] = None
        return msg

    def toggle_trash(self) -> str:
        u = self.u
        u.update(trash_view=not u["trash_view"], selected=None, scroll=0)
        return "showing the trash" if u["trash_view"] else f"showing {u['cwd']}"

    def restore(self) -> str:
        u = self.u
        if u["selected"] is None:
            raise ToolError("select an item of the trash first")
        msg = self.api("files.restore", name=u["selected"])
        u["selected"] = None
        return msg

    def empty(self) -> str:
        n = len(self.world.s["trash"])
        return self.desk.confirm("Empty trash", f"Permanently delete {n} items? This cannot be undone.",
                                 lambda: self.api("files.empty_trash"))
