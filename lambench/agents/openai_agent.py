"""``openai:MODEL`` — any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp's
server, Ollama, TGI, ``transformers serve``, ...), with native tool calls or JSON in text.

Base URL from ``--base-url`` or ``OPENAI_BASE_URL``; key from ``OPENAI_API_KEY`` (a local server
without authentication needs none).
"""

from __future__ import annotations

import json
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
        return safe_url(self.base_url) or "https://api.openai.com/v1"

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Completion:
        o = self._openai
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, **self.params}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        names: dict[str, str] = {}
        if tools:
            # the API refuses dotted names (mail.send): send mail_send, map the model's calls back
            names = wire_tool_names([t.get("function", t)["name"] for t in tools])
            kwargs["tools"] = [_renamed(t, names) for t in tools]
        try:
            resp = self.client.chat.completions.create(**kwargs)
        except o.RateLimitError as exc:
            text = error_message(exc)
            if getattr(exc, "code", None) == "insufficient_quota" or "insufficient_quota" in text:
                raise InfraError(f"{self._endpoint()} refused the request: out of quota (429: {text})") from None
            raise TransientError(f"429 rate limited: {text}", retry_after=retry_after_from(exc.response.headers)
                                 ) from None
        except o.APITimeoutError:
            raise TransientError(f"no answer from {self._endpoint()} within {self.request_timeout:g}s "
                                 "(request timeout)") from None
        except o.APIConnectionError as exc:
            raise TransientError(f"cannot connect to {self._endpoint()}: {exc.__cause__ or exc}") from None
        except o.APIStatusError as exc:
            status = exc.status_code
            text = error_message(exc)
            if status >= 500 or status == 408:
                raise TransientError(f"{status} server error: {text}", retry_after=retry_after_from(exc.response.headers)
                                     ) from None
            if status in (400, 413, 422) and CONTEXT_OVERFLOW.search(text):
                raise ContextOverflow(text) from None
            if tools and status in (400, 422, 501) and any(w in text.lower() for w in _TOOL_ERRORS):
                raise ToolsUnsupported(text) from None
            if status in (401, 403):
                raise InfraError(f"{self._endpoint()} refused the credentials ({status}: {text}); check "
                                 "OPENAI_API_KEY") from None
            if status == 404:
                raise InfraError(f"{self._endpoint()} answered 404 for model {self.model!r} ({text}); check the "
                                 "model name and --base-url (it usually ends in /v1)") from None
            raise InfraError(f"{self._endpoint()} rejected the request ({status}: {text})") from None
        except o.APIError as exc:  # e.g. a body the SDK could not validate
            raise TransientError(f"unreadable answer from {self._endpoint()}: {exc}") from None
        except ValueError as exc:  # a body announced as JSON that is not (cut off): the SDK's json() raised
            raise TransientError(f"unreadable answer from {self._endpoint()} (not JSON: {exc})") from None
        return _completion(resp, self._endpoint(), {w: n for n, w in names.items()})


def _renamed(tool: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    fn = tool.get("function", tool)
    wire = names.get(fn["name"], fn["name"])
    if wire == fn["name"] and "function" in tool:
        return tool
    return {"type": "function", "function": {**fn, "name": wire}}



def _completion(resp: Any, endpoint: str, back: dict[str, str] | None = None) -> Completion:
    """The provider-neutral completion of a response (``back``: wire tool names -> the environment's)."""
    if isinstance(resp, (str, bytes)):
        title = html_title(resp)
        what = f"an HTML page ({title!r})" if title is not None else f"a non-JSON answer ({resp[:200]!r})"
        # a 200 that is not JSON is a wrong --base-url (a web UI, a proxy), not worth retrying
        raise InfraError(f"{endpoint} returned {what} instead of a chat completion; is --base-url the "
                         "OpenAI-compatible API (it usually ends in /v1)?")
    if not getattr(resp, "choices", None):
        err = getattr(resp, "error", None) or (getattr(resp, "model_extra", None) or {}).get("error")
        if err:
            raise TransientError(f"{endpoint} returned an error instead of a completion: "
                                 f"{(err.get('message') if isinstance(err, dict) else None) or err}"[:500])
        raise TransientError(f"{endpoint} returned no completion (is it an OpenAI-compatible /v1 endpoint?): "
                             f"{repr(resp)[:200]}")
    msg = resp.choices[0].message
    back = back or {}
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
        calls.append({"name": back.get(fn.name, fn.name), "arguments": args})
    usage = getattr(resp, "usage", None)
    return Completion(text=msg.content or "", tool_calls=calls,
                      tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
                      tokens_out=int(getattr(usage, "completion_tokens", 0) or 0))
