"""The web-app sandbox: a JSON API (with its OpenAPI document) served from a container, driven by tool calls."""

from lambench.sandboxes.webapp.sandbox import WebAppSandbox, tools_from_openapi

__all__ = ["WebAppSandbox", "tools_from_openapi"]
