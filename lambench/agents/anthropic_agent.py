"""``anthropic:MODEL`` — the Anthropic Messages API with tool use.

Key from ``ANTHROPIC_API_KEY``; base URL from ``--base-url`` or ``ANTHROPIC_BASE_URL``.
"""

from __future__ import annotations

import os
from typing import Any

from lambench.agents.clients import InfraError, TransientError, missing_extra, parse_retry_after
from lambench.agents.llm import ChatAgent, Completion

__all__ = ["AnthropicAgent"]


def _anthropic_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tools:
        fn = t.get("function", t)
        out.append({"name": fn["name"], "description": fn.get("description") or fn["name"],
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

    def _endpoint(self) -> str:
        return self.base_url or "https://api.anthropic.com"

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Completion:
        a = self._anthropic
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]
        kwargs: dict[str, Any] = {"model": self.model, "system": system, "messages": turns,
                                  "max_tokens": self.params["max_tokens"], "temperature": self.params["temperature"]}
        if "top_p" in self.params:
            kwargs["top_p"] = self.params["top_p"]
        if tools:
            kwargs["tools"] = _anthropic_tools(tools)
        try:
            resp = self.client.messages.create(**kwargs)
        except a.RateLimitError as exc:
            raise TransientError(f"429 rate limited: {_msg(exc)}",
                                 retry_after=parse_retry_after(exc.response.headers.get("retry-after"))) from None
        except a.APITimeoutError:
            raise TransientError(f"no answer within {self.request_timeout:g}s (request timeout)") from None
        except a.APIConnectionError as exc:
            raise TransientError(f"cannot connect to {self._endpoint()}: {exc.__cause__ or exc}") from None
        except a.APIStatusError as exc:
            status = exc.status_code
            if status >= 500 or status in (408, 529):
                raise TransientError(f"{status} server error: {_msg(exc)}",
                                     retry_after=parse_retry_after(exc.response.headers.get("retry-after"))
                                     ) from None
            if status in (401, 403):
                raise InfraError(f"{self._endpoint()} refused the credentials ({status}: {_msg(exc)}); check "
                                 "ANTHROPIC_API_KEY") from None
            if status == 404:
                raise InfraError(f"{self._endpoint()} answered 404 for model {self.model!r} ({_msg(exc)}); check the "
                                 "model name and --base-url") from None
            raise InfraError(f"{self._endpoint()} rejected the request ({status}: {_msg(exc)})") from None
        except a.APIError as exc:
            raise TransientError(f"unreadable answer from {self._endpoint()}: {exc}") from None
        content = getattr(resp, "content", None)
        if not isinstance(content, list):
            raise TransientError(f"{self._endpoint()} returned no message content: {repr(resp)[:200]}")
        text = "".join(getattr(b, "text", "") for b in content if getattr(b, "type", "") == "text")
        calls = [{"name": b.name, "arguments": b.input} for b in content if getattr(b, "type", "") == "tool_use"]
        usage = getattr(resp, "usage", None)
        return Completion(text=text, tool_calls=calls, tokens_in=int(getattr(usage, "input_tokens", 0) or 0),
                          tokens_out=int(getattr(usage, "output_tokens", 0) or 0))


def _msg(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
    return str(getattr(exc, "message", exc))[:500]
