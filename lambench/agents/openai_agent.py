"""``openai:MODEL`` — any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp's
server, Ollama, TGI, ``transformers serve``, ...), with native tool calls or JSON in text.

Base URL from ``--base-url`` or ``OPENAI_BASE_URL``; key from ``OPENAI_API_KEY`` (a local server
without authentication needs none).
"""

from __future__ import annotations

import json
import os
from typing import Any

from lambench.agents.clients import TransientError, import_sdk, refuse_text, safe_url, wire_tool_names
from lambench.agents.llm import ChatAgent, Completion, SdkErrors

__all__ = ["OpenAIAgent"]

_ERRORS = SdkErrors(key_env="OPENAI_API_KEY", url_hint=" (it usually ends in /v1)", quota_429=True)


class OpenAIAgent(ChatAgent):
    provider = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None, **options: Any):
        self._openai = openai = import_sdk("openai", "api")
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        super().__init__(model, **options)
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.base_url is None:
                raise ValueError("openai: set OPENAI_API_KEY (or give --base-url for a local OpenAI-compatible "
                                 "server, which needs no key)")
            key = "no-key"
        self.client = openai.OpenAI(api_key=key, base_url=self.base_url, timeout=self.request_timeout,
                                    max_retries=0)

    def _endpoint(self) -> str:
        return safe_url(self.base_url) or "https://api.openai.com/v1"

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Completion:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, **self.params}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        names: dict[str, str] = {}
        if tools:
            # the API refuses dotted names (mail.send): send mail_send, map the model's calls back
            names = wire_tool_names([t.get("function", t)["name"] for t in tools])
            kwargs["tools"] = [_renamed(t, names) for t in tools]
        resp = self._sdk_call(self._openai, _ERRORS, lambda: self.client.chat.completions.create(**kwargs), tools)
        return _completion(resp, self._endpoint(), {w: n for n, w in names.items()})


def _renamed(tool: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    fn = tool.get("function", tool)
    wire = names.get(fn["name"], fn["name"])
    if wire == fn["name"] and "function" in tool:
        return tool
    return {"type": "function", "function": {**fn, "name": wire}}


def _completion(resp: Any, endpoint: str, back: dict[str, str] | None = None) -> Completion:
    """The provider-neutral completion of a response (``back``: wire tool names -> the environment's)."""
    refuse_text(resp, endpoint, instead_of="a chat completion", api="OpenAI-compatible API (it usually ends in /v1)")
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
