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

from lambench.agents.clients import (
    CONTEXT_OVERFLOW,
    InfraError,
    TransientError,
    error_message,
    html_title,
    missing_extra,
    retry_after_from,
    safe_url,
    wire_tool_names,
)
from lambench.agents.llm import ChatAgent, Completion, ContextOverflow, ToolsUnsupported

__all__ = ["AnthropicAgent"]


_TOOL_ERRORS = ("tool", "function call", "function_call", "tool_choice")


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
        try:
            import anthropic
        except ImportError:
            raise missing_extra("anthropic", "api") from None
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        super().__init__(model, **options)
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise ValueError("anthropic: set ANTHROPIC_API_KEY")
        self._anthropic = anthropic
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

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Completion:
        a = self._anthropic
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
        try:
            resp = self.client.messages.create(**kwargs)
        except a.RateLimitError as exc:
            raise TransientError(f"429 rate limited: {error_message(exc)}", retry_after=retry_after_from(exc.response.headers)
                                 ) from None
        except a.APITimeoutError:
            raise TransientError(f"no answer from {self._endpoint()} within {self.request_timeout:g}s "
                                 "(request timeout)") from None
        except a.APIConnectionError as exc:
            raise TransientError(f"cannot connect to {self._endpoint()}: {exc.__cause__ or exc}") from None
        except a.APIStatusError as exc:
            status = exc.status_code
            text = error_message(exc)
            if status >= 500 or status in (408, 529):
                raise TransientError(f"{status} server error: {text}", retry_after=retry_after_from(exc.response.headers)
                                     ) from None
            if status in (400, 413, 422) and CONTEXT_OVERFLOW.search(text):
                raise ContextOverflow(text) from None
            if tools and status in (400, 422, 501) and any(w in text.lower() for w in _TOOL_ERRORS):
                raise ToolsUnsupported(text) from None
            if status in (401, 403):
                raise InfraError(f"{self._endpoint()} refused the credentials ({status}: {text}); check "
                                 "ANTHROPIC_API_KEY") from None
            if status == 404:
                raise InfraError(f"{self._endpoint()} answered 404 for model {self.model!r} ({text}); check the "
                                 "model name and --base-url") from None
            raise InfraError(f"{self._endpoint()} rejected the request ({status}: {text})") from None
        except a.APIError as exc:
            raise TransientError(f"unreadable answer from {self._endpoint()}: {exc}") from None
        except ValueError as exc:  # a body announced as JSON that is not (cut off): the SDK's json() raised
            raise TransientError(f"unreadable answer from {self._endpoint()} (not JSON: {exc})") from None
        if isinstance(resp, (str, bytes)):
            title = html_title(resp)
            what = f"an HTML page ({title!r})" if title is not None else f"a non-JSON answer ({resp[:200]!r})"
            # a 200 that is not JSON is a wrong --base-url (a web UI, a proxy), not worth retrying
            raise InfraError(f"{self._endpoint()} returned {what} instead of a message; is --base-url the "
                             "Anthropic Messages API?")
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
