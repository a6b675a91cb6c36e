"""``openai:MODEL`` — any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp's
server, Ollama, TGI, ``transformers serve``, ...), with native tool calls or JSON in text.

Base URL from ``--base-url`` or ``OPENAI_BASE_URL``; key from ``OPENAI_API_KEY`` (a local server
without authentication needs none).
"""

from __future__ import annotations

import json
import os
from typing import Any

from lambench.agents.clients import InfraError, TransientError, missing_extra, parse_retry_after
from lambench.agents.llm import ChatAgent, Completion, ToolsUnsupported

__all__ = ["OpenAIAgent"]

_TOOL_ERRORS = ("tool", "function call", "function_call", "tool_choice")


class OpenAIAgent(ChatAgent):
    provider = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None, **options: Any):
        try:
            import openai
        except ImportError:
            raise missing_extra("openai", "api") from None
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        super().__init__(model, **options)
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.base_url is None:
                raise ValueError("openai: set OPENAI_API_KEY (or give --base-url for a local OpenAI-compatible "
                                 "server, which needs no key)")
            key = "no-key"
        self._openai = openai
        self.client = openai.OpenAI(api_key=key, base_url=self.base_url, timeout=self.request_timeout,
                                    max_retries=0)

    def _endpoint(self) -> str:
        return self.base_url or "https://api.openai.com/v1"

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Completion:
        o = self._openai
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, **self.params}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        if tools:
            kwargs["tools"] = tools
        try:
            resp = self.client.chat.completions.create(**kwargs)
        except o.RateLimitError as exc:
            raise TransientError(f"429 rate limited: {_msg(exc)}",
                                 retry_after=parse_retry_after(exc.response.headers.get("retry-after"))) from None
        except o.APITimeoutError:
            raise TransientError(f"no answer within {self.request_timeout:g}s (request timeout)") from None
        except o.APIConnectionError as exc:
            raise TransientError(f"cannot connect to {self._endpoint()}: {exc.__cause__ or exc}") from None
        except o.APIStatusError as exc:
            status = exc.status_code
            text = _msg(exc)
            if status >= 500 or status == 408:
                raise TransientError(f"{status} server error: {text}",
                                     retry_after=parse_retry_after(exc.response.headers.get("retry-after"))
                                     ) from None
            if tools and status in (400, 422, 501) and any(w in text.lower() for w in _TOOL_ERRORS):
                raise ToolsUnsupported(text) from None
            if status in (401, 403):
                raise InfraError(f"{self._endpoint()} refused the credentials ({status}: {text}); check "
                                 "OPENAI_API_KEY") from None
            if status == 404:
                raise InfraError(f"{self._endpoint()} answered 404 for model {self.model!r} ({text}); check the "
                                 "model name and --base-url (it usually ends in /v1)") from None
            raise InfraError(f"{self._endpoint()} rejected the request ({status}: {text})") from None
        except o.APIError as exc:  # e.g. a body that is not JSON (an HTML error page)
            raise TransientError(f"unreadable answer from {self._endpoint()}: {exc}") from None
        return _completion(resp, self._endpoint())


def _msg(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
        if isinstance(err, str):
            return err[:500]
    return str(getattr(exc, "message", exc))[:500]


def _completion(resp: Any, endpoint: str) -> Completion:
    if isinstance(resp, (str, bytes)) or not getattr(resp, "choices", None):
        snippet = resp[:200] if isinstance(resp, (str, bytes)) else repr(resp)[:200]
        raise TransientError(f"{endpoint} returned no completion (is it an OpenAI-compatible /v1 endpoint?): "
                             f"{snippet!r}")
    msg = resp.choices[0].message
    calls = []
    for tc in getattr(msg, "tool_calls", None) or []:
        fn = getattr(tc, "function", None)
        if fn is None:
            continue
        args: Any = fn.arguments
        try:
            args = json.loads(args) if isinstance(args, str) and args.strip() else (args or {})
        except ValueError:
            pass  # kept as text: parse_action reports the malformed arguments as an invalid action
        calls.append({"name": fn.name, "arguments": args})
    usage = getattr(resp, "usage", None)
    return Completion(text=msg.content or "", tool_calls=calls,
                      tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
                      tokens_out=int(getattr(usage, "completion_tokens", 0) or 0))
