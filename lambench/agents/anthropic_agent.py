"""``anthropic:MODEL`` — the Anthropic Messages API with tool use.

Key from ``ANTHROPIC_API_KEY``; base URL from ``--base-url`` or ``ANTHROPIC_BASE_URL``.

Sampling parameters (``temperature``, ``top_p``) are sent only with an SDK that still has them
(before 1.0): newer SDKs removed them and send API version 2026-10-21, which refuses them with a
400, so the model then samples with its own defaults.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from lambench.agents.clients import TransientError, import_sdk, refuse_text, safe_url, wire_tool_names
from lambench.agents.llm import ChatAgent, Completion, SdkErrors

__all__ = ["AnthropicAgent"]


_ERRORS = SdkErrors(key_env="ANTHROPIC_API_KEY")


def _anthropic_tools(tools: list[dict[str, Any]], names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """OpenAI-style tool definitions in Anthropic's form (``names``: the names to send, see wire_tool_names)."""
    names = names or {}
    out = []
    for t in tools:
        fn = t.get("function", t)
        out.append({"name": names.get(fn["name"], fn["name"]), "description": fn.get("description") or fn["name"],
                    "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}})
    return out


class AnthropicAgent(ChatAgent):
    provider = "anthropic"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None, **options: Any):
        self._anthropic = anthropic = import_sdk("anthropic", "api")
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        super().__init__(model, **options)
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise ValueError("anthropic: set ANTHROPIC_API_KEY")
        self.client = anthropic.Anthropic(api_key=key, base_url=self.base_url, timeout=self.request_timeout,
                                          max_retries=0)
        try:
            accepted = set(inspect.signature(self.client.messages.create).parameters)
        except (TypeError, ValueError):
            accepted = {"temperature", "top_p"}
        # SDK >= 1.0 has no sampling parameters (a TypeError) and its API version refuses them (a 400)
        self._sampling = {k: v for k, v in self.params.items() if k in ("temperature", "top_p") and k in accepted}

    def _endpoint(self) -> str:
        return safe_url(self.base_url) or "https://api.anthropic.com"

    def _image_part(self, image: Any) -> dict[str, Any]:
        from lambench.images import png_base64

        return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png_base64(image)}}

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Completion:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]
        kwargs: dict[str, Any] = {"model": self.model, "messages": turns, "max_tokens": self.params["max_tokens"],
                                  **self._sampling}
        if system:
            kwargs["system"] = system
        names: dict[str, str] = {}
        if tools:
            # the API refuses dotted names (mail.send): send mail_send, map the model's calls back
            names = wire_tool_names([t.get("function", t)["name"] for t in tools])
            kwargs["tools"] = _anthropic_tools(tools, names)
        resp = self._sdk_call(self._anthropic, _ERRORS, lambda: self.client.messages.create(**kwargs), tools)
        refuse_text(resp, self._endpoint(), instead_of="a message", api="Anthropic Messages API")
        content = getattr(resp, "content", None)
        if not isinstance(content, list):
            raise TransientError(f"{self._endpoint()} returned no message content: {repr(resp)[:200]}")
        back = {w: n for n, w in names.items()}
        text = "".join(getattr(b, "text", "") for b in content if getattr(b, "type", "") == "text")
        calls = [{"name": back.get(b.name, b.name), "arguments": b.input} for b in content
                 if getattr(b, "type", "") == "tool_use"]
        usage = getattr(resp, "usage", None)
        return Completion(text=text, tool_calls=calls, tokens_in=int(getattr(usage, "input_tokens", 0) or 0),
                          tokens_out=int(getattr(usage, "output_tokens", 0) or 0))
