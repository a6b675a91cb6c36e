"""Settings: system settings and user accounts (the World's ``settings.*`` tools) and the Settings window."""

from __future__ import annotations

from typing import Any

from lambench.sandboxes.mockos.core import ToolError
from lambench.sandboxes.mockos.tools import string, tool
from lambench.sandboxes.mockos.view import Control, Window

SETTING_KEYS = {
    "wifi.enabled": bool,
    "wifi.network": str,
    "firewall.enabled": bool,
    "updates.automatic": bool,
    "screen_lock.enabled": bool,
    "screen_lock.timeout_min": int,
}


def _checked(state: dict[str, Any], key: str, value: Any) -> Any:
    """``value`` as setting ``key`` takes it, or a ToolError saying what it takes."""
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
        if key == "wifi.network" and not state["wifi.enabled"]:
            raise ToolError("Wi-Fi is off; turn it on (wifi.enabled) before choosing a network")
        if key == "wifi.network" and value not in state["wifi.available"]:
            raise ToolError(f"network {value!r} is not in range; available: "
                            + ", ".join(state["wifi.available"]))
    return value


class SettingsApi:
    """The ``settings.*`` tools of the World (a mixin: ``self.s`` is the state)."""

    s: dict[str, Any]

    @tool("settings.get", "Read one setting or all of them.", {"key": string()})
    def settings_get(self, key: str | None = None):
        st = self.s["settings"]
        if key is None:
            return "all settings", None, {k: st[k] for k in SETTING_KEYS} | {"wifi.available": st["wifi.available"],
                                                                            "users": st["users"]}
        if key not in SETTING_KEYS:
            raise ToolError(f"unknown setting {key!r}; known: {', '.join(SETTING_KEYS)}")
        return f"{key} = {st[key]}", None, st[key]

    @tool("settings.set", "Change a setting: " + ", ".join(SETTING_KEYS) + ".",
          {"key": string(enum=list(SETTING_KEYS)), "value": {"type": ["boolean", "integer", "string"]}})
    def settings_set(self, key: str, value: Any):
        if key not in SETTING_KEYS:
            raise ToolError(f"unknown setting {key!r}; known: {', '.join(SETTING_KEYS)}")
        value = _checked(self.s["settings"], key, value)
        self.s["settings"][key] = value
        return f"set {key} = {value}", {"op": "settings.set", "args": {"key": key, "value": value}}, None

    def _user(self, name: str) -> dict:
        for u in self.s["settings"]["users"]:
            if u["name"] == name:
                return u
        raise ToolError(f"no user account {name!r}")

    @tool("settings.add_user", "Add a user account.", {"name": string(), "admin": {"type": "boolean"}})
    def settings_add_user(self, name: str, admin: bool = False):
        name = str(name).strip()
        if not name.isidentifier():
            raise ToolError("a user name must be a single word of letters, digits or _")
        if any(u["name"] == name for u in self.s["settings"]["users"]):
            raise ToolError(f"user {name!r} already exists")
        self.s["settings"]["users"].append({"name": name, "admin": bool(admin)})
        return f"added user {name}", {"op": "settings.add_user", "args": {"name": name, "admin": bool(admin)}}, None

    @tool("settings.remove_user", "Remove a user account.", {"name": string()})
    def settings_remove_user(self, name: str):
        u = self._user(str(name))
        if u["name"] == "alex":
            raise ToolError("cannot remove the account you are logged in with")
        self.s["settings"]["users"].remove(u)
        return f"removed user {name}", {"op": "settings.remove_user", "args": {"name": name}}, None

    @tool("settings.set_admin", "Grant or revoke administrator rights.",
          {"name": string(), "admin": {"type": "boolean"}})
    def settings_set_admin(self, name: str, admin: bool):
        u = self._user(str(name))
        if not isinstance(admin, bool):
            raise ToolError("admin takes true or false")
        u["admin"] = admin
        return f"{name} admin = {admin}", {"op": "settings.set_admin", "args": {"name": name, "admin": admin}}, None


class SettingsWindow(Window):
    """The Settings window: toggles, the Wi-Fi network, the screen-lock timeout, the user accounts."""

    app = "settings"

    def initial(self) -> dict[str, Any]:
        return {"selected_user": None, "fields": {"New user name": "", "Screen lock timeout (minutes)": ""},
                "scroll": 0}

    def view(self) -> list[Control]:
        st = self.world.s["settings"]
        u = self.u

        def toggle(name: str, key: str) -> Control:
            return self.c("checkbox", name, "on" if st[key] else "off", on_click=lambda: self.toggle(key))

        def set_network(option: str) -> str:
            return self.api("settings.set", key="wifi.network", value=option)

        timeout_field = self.field("Screen lock timeout (minutes)")
        if not u["fields"]["Screen lock timeout (minutes)"]:
            timeout_field.value = str(st["screen_lock.timeout_min"])
        c = [toggle("Wi-Fi", "wifi.enabled"),
             self.c("combobox", "Wi-Fi network", st["wifi.network"], options=list(st["wifi.available"]),
                    on_type=set_network),
             toggle("Firewall", "firewall.enabled"),
             toggle("Automatic updates", "updates.automatic"),
             toggle("Screen lock", "screen_lock.enabled"),
             timeout_field,
             self.c("button", "Apply timeout", on_click=self.set_timeout),
             self.field("New user name"),
             self.c("button", "Add user", on_click=self.add_user),
             self.c("button", "Remove user", on_click=self.remove_user),
             self.c("button", "Grant admin", on_click=lambda: self.admin(True)),
             self.c("button", "Revoke admin", on_click=lambda: self.admin(False))]
        items = [Control("listitem", x["name"], ("selected, " if u["selected_user"] == x["name"] else "")
                         + ("administrator" if x["admin"] else "standard user"),
                         on_click=(lambda n=x["name"]: self.pick_user(n))) for x in st["users"]]
        return c + self.paged("users", items)

    def toggle(self, key: str) -> str:
        return self.api("settings.set", key=key, value=not self.world.s["settings"][key])

    def pick_user(self, name: str) -> str:
        self.u["selected_user"] = name
        return f"selected user {name}"

    def set_timeout(self) -> str:
        value = self.u["fields"]["Screen lock timeout (minutes)"]
        if not value:
            raise ToolError("type the timeout into Screen lock timeout (minutes) first")
        return self.api("settings.set", key="screen_lock.timeout_min", value=value)

    def add_user(self) -> str:
        f = self.u["fields"]
        if not f["New user name"]:
            raise ToolError("type the user's name into New user name first")
        msg = self.api("settings.add_user", name=f["New user name"])
        f["New user name"] = ""
        return msg

    def _selected_user(self) -> str:
        return self.picked("selected_user", "a user")

    def remove_user(self) -> str:
        name = self._selected_user()

        def do() -> str:
            self.u["selected_user"] = None
            return self.api("settings.remove_user", name=name)

        return self.desk.confirm("Remove user", f"Remove the account {name!r} and its files?", do)

    def admin(self, admin: bool) -> str:
        return self.api("settings.set_admin", name=self._selected_user(), admin=admin)
