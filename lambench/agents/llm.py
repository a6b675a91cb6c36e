"""The common part of model adapters: prompts within a context budget, the protocol (native tool
calls or JSON in text), the response cache, retries, the concurrency limit, tokens and cost.

Each step is one request: the system prompt, optional few-shot examples, and one user turn with
the request, the actions so far (``observation.history``: the agent's own actions in a live run,
the gold ones in offline replay) and the current observation — the same text ``lambench export
sft`` trains on.  A provider subclass implements :meth:`ChatAgent._request` only.

Options (``--agent-option KEY=VALUE`` on the command line, keyword arguments here):

``protocol``          ``auto`` (native tools; JSON in text if the server rejects tools), ``tools``, ``json``
``temperature``       0.0; ``max_tokens`` 512; ``top_p`` (unset)
``request_timeout``   seconds per request (60)
``max_retries``       retries of a failed request (5): 429 (honouring Retry-After), 5xx, timeouts, dropped connections
``max_concurrency``   requests in flight across all worker processes (unlimited)
``cache``             directory of the response cache (identical requests are answered from it)
``price_table``       JSON/YAML file of USD per million input/output tokens per model
``prompt_template``   YAML file with ``system`` and/or ``user`` (``{request}``, ``{history}``, ``{observation}``, ``{tools}``)
``context_chars``     budget of the user turn in characters (24000; tokenizer tokens for ``hf:`` via ``context_tokens``)
``few_shot``          number of worked steps from the shipped replay dataset shown first (JSON protocol)
``coordinates``       how the model gives points on a screenshot: ``pixels`` (default) or ``norm1000`` (0-1000 on
                      each axis, as several GUI models do; scaled to the screenshot's pixels before the action runs)

In the image observation modes the user turn also carries the screenshot (an image part in each provider's
format: OpenAI ``image_url`` with a PNG data URL, Anthropic an ``image`` block).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambench.action import ACTION_TYPES
from lambench.agents.base import BaseAgent
from lambench.agents.clients import (
    CONTEXT_OVERFLOW,
    InfraError,
    PriceTable,
    ResponseCache,
    RetryPolicy,
    SharedSemaphore,
    TransientError,
    error_message,
    request_key,
    retry_after_from,
    with_retries,
)
from lambench.agents.toolcalls import extract_tool_call
from lambench.prompts import SYSTEM_PROMPT, USER_TEMPLATE, format_history

__all__ = ["ChatAgent", "Completion", "ToolsUnsupported", "SdkErrors", "JSON_PROTOCOL_NOTE", "json_protocol_note",
           "load_template"]

JSON_PROTOCOL_NOTE = """

Reply with exactly one JSON object and nothing else, e.g. {"type": "click", "target": "7"} or \
{"type": "call", "tool": "mail.send", "args": {"to": ["a@example.com"], "subject": "Hi", "body": "..."}} \
or {"type": "finish", "status": "success", "message": "..."}. The tools you can use:
{tools}"""

DEFAULT_USER = USER_TEMPLATE

HISTORY_BLOCK = 8
"""Earlier actions are dropped from the prompt this many at a time when it is over its budget."""


def json_protocol_note(tools: list[dict[str, Any]]) -> str:
    """The JSON-in-text instructions, with examples of actions the environment offers: the GUI examples
    (:data:`JSON_PROTOCOL_NOTE`) where there is a GUI (or no tool list); otherwise a shell command, a
    call of the first application tool, and ``finish`` (small models copy the example action)."""
    fns = [t.get("function", t) for t in tools]
    names = [f.get("name") for f in fns]
    if not names or "click" in names:
        return JSON_PROTOCOL_NOTE
    examples = []
    if "shell" in names:
        examples.append('{"type": "shell", "command": "ls -la ~"}')
    api = next((f for f in fns if f.get("name") not in ACTION_TYPES), None)
    if api is not None:
        params = api.get("parameters", {})
        keys = list(params.get("required") or params.get("properties") or {})[:2]
        args = json.dumps({k: "..." for k in keys})
        examples.append(f'{{"type": "call", "tool": {json.dumps(api.get("name"))}, "args": {args}}}')
    examples.append('{"type": "finish", "status": "success", "message": "..."}')
    return ("\n\nReply with exactly one JSON object and nothing else, e.g. " + " or ".join(examples)
            + ". The tools you can use:\n{tools}")


class ToolsUnsupported(Exception):
    """The server does not accept the ``tools`` parameter (switch to the JSON-in-text protocol)."""


class ContextOverflow(Exception):
    """The prompt is longer than the model's context window: the model cannot answer (scored as invalid)."""


@dataclass
class Completion:
    """A model's answer, provider-neutral (what the cache stores)."""

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """``[{"name": str, "arguments": dict | str}]``."""
    tokens_in: int = 0
    tokens_out: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "tool_calls": self.tool_calls, "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Completion":
        return cls(text=d.get("text") or "", tool_calls=list(d.get("tool_calls") or []),
                   tokens_in=int(d.get("tokens_in") or 0), tokens_out=int(d.get("tokens_out") or 0))


def load_template(path: str | os.PathLike | None) -> dict[str, str]:
    """``{"system": ..., "user": ...}`` from a YAML file (either key may be left out)."""
    if not path:
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the prompt template {path}: {exc}") from None
    if not isinstance(data, dict) or not set(data) <= {"system", "user"} or not all(
            isinstance(v, str) for v in data.values()):
        raise ValueError(f"{path}: a prompt template is YAML with the keys 'system' and/or 'user' (strings)")
    if "user" in data:
        try:
            data["user"].format(request="", history="", observation="", tools="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{path}: the user template may use {{request}}, {{history}}, {{observation}} and "
                             f"{{tools}} only ({exc}); write {{{{ and }}}} for literal braces") from None
    return data


_TOOL_ERRORS = ("tool", "function call", "function_call", "tool_choice")


@dataclass(frozen=True)
class SdkErrors:
    """Where the OpenAI and Anthropic SDKs' errors read differently (see :meth:`ChatAgent._sdk_call`)."""

    key_env: str
    """The environment variable of the key, named when the endpoint refuses the credentials."""
    url_hint: str = ""
    """Said after "check the model name and --base-url" when the endpoint answers 404."""
    quota_429: bool = False
    """A 429 saying ``insufficient_quota`` is out of quota (an infrastructure error, not retried)."""


class ChatAgent(BaseAgent):
    """Base class of the model adapters (see the module docstring for the options)."""

    provider = "model"
    #: while True, the agent is waiting on the endpoint: a step timeout then is an infrastructure error
    in_request = False

    def __init__(self, model: str, *, seed: int = 0, protocol: str = "auto", temperature: float = 0.0,
                 max_tokens: int = 512, top_p: float | None = None, request_timeout: float = 60.0,
                 max_retries: int = 5, max_concurrency: int | None = None, cache: str | None = None,
                 price_table: str | None = None, prompt_template: str | None = None, context_chars: int = 24000,
                 few_shot: int = 0, coordinates: str = "pixels", **unknown: Any):
        if unknown:
            raise ValueError(f"unknown option(s) for {self.provider}: {', '.join(sorted(unknown))}")
        if coordinates not in ("pixels", "norm1000"):
            raise ValueError(f"coordinates must be pixels or norm1000, not {coordinates!r}")
        self.coordinates = coordinates
        if protocol not in ("auto", "tools", "json"):
            raise ValueError(f"protocol must be auto, tools or json, not {protocol!r}")
        if not model:
            raise ValueError(f"give a model name: {self.provider}:MODEL")
        for name, value, low in (("max_tokens", max_tokens, 1), ("max_retries", max_retries, 0),
                                 ("context_chars", context_chars, 200), ("few_shot", few_shot, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be a whole number >= {low}, not {value!r}")
        if not isinstance(request_timeout, (int, float)) or request_timeout <= 0:
            raise ValueError(f"request_timeout must be a number of seconds > 0, not {request_timeout!r}")
        if max_concurrency is not None and (not isinstance(max_concurrency, int) or max_concurrency < 1):
            raise ValueError(f"max_concurrency must be a whole number >= 1, not {max_concurrency!r}")
        if not isinstance(temperature, (int, float)) or temperature < 0:
            raise ValueError(f"temperature must be a number >= 0, not {temperature!r}")
        self.model = model
        self.seed = seed
        self.protocol = protocol
        self.params = {"temperature": float(temperature), "max_tokens": int(max_tokens)}
        if top_p is not None:
            self.params["top_p"] = float(top_p)
        self.request_timeout = float(request_timeout)
        self.policy = RetryPolicy(max_retries=int(max_retries))
        try:
            self.semaphore = (SharedSemaphore(f"{self.provider}:{self._endpoint()}", int(max_concurrency))
                              if max_concurrency else None)
        except OSError as exc:
            raise ValueError(f"cannot set up the concurrency limit ({exc}); set TMPDIR to a writable directory"
                             ) from None
        self.cache = ResponseCache(cache) if cache else None
        self.prices = PriceTable.load(price_table)
        template = load_template(prompt_template)
        self.system_prompt = template.get("system", SYSTEM_PROMPT)
        self.user_template = template.get("user", DEFAULT_USER)
        self.context_chars = int(context_chars)
        self.few_shot = int(few_shot)
        self.last_usage: dict[str, Any] = {}
        self.last_status: str | None = None
        self.tools: list[dict[str, Any]] = []
        self.request = ""
        self.sent_image = False
        if (self.provider, self._endpoint(), model) in _NO_TOOLS and protocol == "auto":
            self.protocol = "json"  # this process already learnt that the server rejects tools

    # ------------------------------------------------------------------ provider hooks
    def _endpoint(self) -> str:
        return ""

    def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Completion:
        """Send one request; raise TransientError (retried), ToolsUnsupported or InfraError."""
        raise NotImplementedError


    def _sdk_call(self, sdk: Any, errors: SdkErrors, call: Callable[[], Any], tools: list[dict[str, Any]] | None
                  ) -> Any:
        """``call()``, one request through the OpenAI or Anthropic SDK (the module ``sdk``), with the SDK's
        errors as TransientError (retried), ContextOverflow, ToolsUnsupported or InfraError."""
        try:
            return call()
        except sdk.RateLimitError as exc:
            text = error_message(exc)
            quota = getattr(exc, "code", None) == "insufficient_quota" or "insufficient_quota" in text
            if errors.quota_429 and quota:
                raise InfraError(f"{self._endpoint()} refused the request: out of quota (429: {text})") from None
            raise TransientError(f"429 rate limited: {text}", retry_after=retry_after_from(exc.response.headers)
                                 ) from None
        except sdk.APITimeoutError:
            raise TransientError(f"no answer from {self._endpoint()} within {self.request_timeout:g}s "
                                 "(request timeout)") from None
        except sdk.APIConnectionError as exc:
            raise TransientError(f"cannot connect to {self._endpoint()}: {exc.__cause__ or exc}") from None
        except sdk.APIStatusError as exc:
            raise self._status_error(exc.status_code, error_message(exc), exc, errors, tools) from None
        except sdk.APIError as exc:  # e.g. a body the SDK could not validate
            raise TransientError(f"unreadable answer from {self._endpoint()}: {exc}") from None
        except ValueError as exc:  # a body announced as JSON that is not (cut off): the SDK's json() raised
            raise TransientError(f"unreadable answer from {self._endpoint()} (not JSON: {exc})") from None

    def _status_error(self, status: int, text: str, exc: Any, errors: SdkErrors,
                      tools: list[dict[str, Any]] | None) -> Exception:
        """The error to raise for an HTTP error status the SDK reported."""
        if status in (400, 413, 422) and CONTEXT_OVERFLOW.search(text):  # (also when it names the image's tokens)
            return ContextOverflow(text)
        if self.sent_image and status in (400, 415, 422, 500, 501) and _IMAGE_ERRORS.search(text):
            return InfraError(f"{self._endpoint()} does not take images for model {self.model!r} ({status}: "
                              f"{text}); run it with --observation text, or give a vision-language model")
        if status >= 500 or status == 408:  # Anthropic's 529 (overloaded) among them
            return TransientError(f"{status} server error: {text}", retry_after=retry_after_from(exc.response.headers))
        if tools and status in (400, 422, 501) and any(w in text.lower() for w in _TOOL_ERRORS):
            return ToolsUnsupported(text)
        if status in (401, 403):
            return InfraError(f"{self._endpoint()} refused the credentials ({status}: {text}); check "
                              f"{errors.key_env}")
        if status == 404:
            return InfraError(f"{self._endpoint()} answered 404 for model {self.model!r} ({text}); check the "
                              f"model name and --base-url{errors.url_hint}")
        return InfraError(f"{self._endpoint()} rejected the request ({status}: {text})")
    def _count(self, text: str) -> int:
        """Size of a text against the context budget (characters; the hf adapter counts tokens)."""
        return len(text)

    @property
    def _budget(self) -> int:
        return self.context_chars

    # ------------------------------------------------------------------ the agent protocol
    def reset(self, task: Any) -> None:
        self.in_request = False
        self.request = task.instruction
        self.tools = list(task.tools or [])
        self.task_id = task.id
        self.last_usage = {}

    def _json_mode(self) -> bool:
        return self.protocol == "json" or not self.tools

    def _tools_text(self) -> str:
        lines = []
        for t in self.tools:
            fn = t.get("function", t)
            params = fn.get("parameters", {}).get("properties", {})
            args = ", ".join(f"{k}: {v.get('type', 'any') if isinstance(v, dict) else 'any'}" for k, v in params.items())
            lines.append(f"- {fn.get('name')}({args}): {(fn.get('description') or '').splitlines()[0] if fn.get('description') else ''}")
        return "\n".join(lines)

    def _system(self) -> str:
        from lambench.prompts import SCREEN_NOTE

        system = self.system_prompt
        if any((t.get("function") or t).get("name") == "drag" for t in self.tools):  # points are on offer
            system += SCREEN_NOTE
        if self._json_mode():
            return system + json_protocol_note(self.tools).replace("{tools}", self._tools_text())
        return system

    def _user(self, observation_text: str, history: list[dict[str, Any]]) -> str:
        """The user turn within the budget: fewer earlier actions first (the newest is kept), then the
        observation's middle cut, and only then no earlier actions at all."""
        def render(obs: str, shown: int | None) -> str:
            return self.user_template.format(request=self.request, history=format_history(history, limit=shown),
                                             observation=obs, tools=self._tools_text())

        def cut(shown: int | None) -> str:
            text = render(observation_text, shown)
            over = self._count(text) - self._budget
            if over <= 0:
                return text
            per_unit = len(text) / max(1, self._count(text))  # characters per budget unit (1 for characters)
            floor = min(400, len(observation_text))  # never cut the screen away entirely
            keep = max(floor, int(len(observation_text) - over * per_unit) - 80)
            for _ in range(6):  # token counts are not additive: shrink until it fits
                obs = (observation_text[: keep // 2] + "\n[... observation cut to fit the context budget ...]\n"
                       + observation_text[len(observation_text) - keep // 2:])
                text = render(obs, shown)
                if self._count(text) <= self._budget or keep <= floor:
                    break
                keep = max(floor, int(keep * 0.8))
            return text

        text = render(observation_text, None)
        shown = len(history)
        while self._count(text) > self._budget and shown > 1:
            shown //= 2
            # Drop the earliest actions in blocks of HISTORY_BLOCK, so the window's start (and the prompt's
            # prefix, which a server's prompt cache reuses) stays put for several steps instead of sliding.
            skipped = min(len(history) - 1, -(-(len(history) - shown) // HISTORY_BLOCK) * HISTORY_BLOCK)
            shown = len(history) - skipped
            text = render(observation_text, shown)
        if self._count(text) > self._budget:
            text = cut(shown if history else None)
        if self._count(text) > self._budget and history:
            text = cut(0)
        return text

    def messages(self, observation: Any) -> list[dict[str, Any]]:
        msgs: list[dict[str, Any]] = [{"role": "system", "content": self._system()}]
        if self.few_shot and self._json_mode():
            for ex in _few_shot_examples(self.few_shot, getattr(self, "task_id", "")):
                msgs.append({"role": "user", "content": self.user_template.format(
                    request=ex["request"], history=format_history(ex["history"][-5:]),
                    observation=ex["observation"]["text"], tools="")})
                msgs.append({"role": "assistant", "content": json.dumps(ex["gold"]["action"])})
        user = self._user(observation.text, list(observation.history))
        image = getattr(observation, "image", None)
        self.sent_image = image is not None
        if image is None:
            msgs.append({"role": "user", "content": user})
        else:
            msgs.append({"role": "user", "content": [{"type": "text", "text": user}, self._image_part(image)]})
        return msgs

    def _image_part(self, image: Any) -> dict[str, Any]:
        """The screenshot as a content part (OpenAI's format; providers with another one override this)."""
        from lambench.images import png_base64

        return {"type": "image_url", "image_url": {"url": "data:image/png;base64," + png_base64(image)}}

    def _to_pixels(self, output: Any, observation: Any) -> Any:
        """``coordinates=norm1000``: the points of the model's action (0-1000 on each axis) in screenshot pixels."""
        image = getattr(observation, "image", None)
        if self.coordinates == "pixels" or image is None:
            return output
        from lambench.action import parse_action

        parsed = parse_action(output)
        if not parsed.valid:
            return output  # recorded as the invalid action it is
        action = parsed.action.model_dump()
        height, width = image.shape[:2]
        for key, size in (("x", width), ("y", height), ("to_x", width), ("to_y", height)):
            if action.get(key) is not None:
                action[key] = round(action[key] * size / 1000)
        return action

    def _cache_identity(self) -> dict[str, Any]:
        """What else, besides the request, decides the answer (the endpoint; the hf load settings)."""
        return {"endpoint": self._endpoint()}

    def act(self, observation: Any) -> Any:
        messages = self.messages(observation)
        tools = None if self._json_mode() else self.tools
        try:
            completion = self._complete(messages, tools)
        except ContextOverflow as exc:  # the model cannot take this prompt: its failure, scored as invalid
            self.last_usage = {"tokens_in": 0, "tokens_out": 0, "cost_usd": None}
            return f"(no answer: the prompt exceeds the model's context window: {exc})"
        if completion is None:  # the server refused tools: from now on (in this process), JSON in text
            self.protocol = "json"
            _NO_TOOLS.add((self.provider, self._endpoint(), self.model))
            messages = self.messages(observation)
            completion = self._complete(messages, None)
        cost = self.prices.cost(self.model, completion.tokens_in, completion.tokens_out)
        self.last_usage = {"tokens_in": completion.tokens_in, "tokens_out": completion.tokens_out, "cost_usd": cost}
        if completion.tool_calls:
            call = completion.tool_calls[0] if len(completion.tool_calls) == 1 else completion.tool_calls
            out = call if isinstance(call, list) else {"name": call.get("name"), "arguments": call.get("arguments")}
            return self._to_pixels(out, observation)
        return self._to_pixels(extract_tool_call(completion.text), observation)

    def _complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Completion | None:
        payload = {"provider": self.provider, "model": self.model, "messages": messages, "tools": tools,
                   "params": self.params, "seed": self.seed, **self._cache_identity()}
        key = request_key(payload)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                if hit.get("tools_rejected"):  # a recorded refusal of the tools parameter
                    if self.protocol == "auto":
                        return None
                    raise InfraError("the server does not support tool calls (recorded in the cache); use "
                                     "--agent-option protocol=json")
                return Completion.from_json(hit)

        def once() -> Completion:
            if self.semaphore is not None:
                with self.semaphore.slot():
                    return self._request(messages, tools)
            return self._request(messages, tools)

        # in_request stays True if a step or episode timeout (a BaseException) interrupts the request, so
        # the episode knows the time went to the endpoint (an infrastructure error, not the model's answer)
        self.in_request = True
        try:
            completion = with_retries(once, self.policy, what=f"{self.provider} request to {self.model}")
        except ToolsUnsupported as exc:
            self.in_request = False
            if self.cache is not None:
                self.cache.put(key, payload, {"tools_rejected": True, "message": str(exc)[:500]})
            if self.protocol == "auto":
                return None
            raise InfraError(f"the server does not support tool calls ({exc}); use --agent-option protocol=json"
                             ) from None
        except Exception:
            self.in_request = False
            raise
        self.in_request = False
        if self.cache is not None:
            self.cache.put(key, payload, completion.to_json())
        return completion


_FEW_SHOT: list[dict[str, Any]] | None = None
_NO_TOOLS: set[tuple[str, str, str]] = set()
_IMAGE_ERRORS = re.compile(r"image input|images? (is |are )?not supported|(does not|doesn't|cannot) (support|accept|take)"
                           r"( \w+)? images?|vision|multi-?modal|mmproj|not [\"']list[\"']|content must be a string",
                           re.IGNORECASE)
"""What a server that cannot read images says when it is sent one: llama.cpp's server "image input is not
supported"; llama-cpp-python's with a text-only model a 500 'can only concatenate str (not "list") to str' (the
content parts it cannot join)."""
"""(provider, endpoint, model) that rejected the tools parameter in this process."""


def _few_shot_examples(k: int, task_id: str) -> list[dict[str, Any]]:
    """``k`` worked steps of other tasks from the shipped mock-OS dataset (a fixed, varied choice)."""
    global _FEW_SHOT
    if _FEW_SHOT is None:
        from lambench.replay.dataset import load_dataset

        from lambench.shipped import shipped_datasets

        path = shipped_datasets().get("mockos-core", Path("mockos-core.jsonl.gz"))
        try:
            steps = [s for s in load_dataset(path).steps if s.get("variant") == "clean"]
        except Exception:  # not shipped with this install: no examples
            steps = []
        seen: set[str] = set()
        picked = []
        for s in steps:  # one step of each action type first, then more
            kind = s["gold"]["action"]["type"]
            if kind not in seen and s["step"] > 0:
                seen.add(kind)
                picked.append(s)
        _FEW_SHOT = picked + [s for s in steps if s not in picked]
    return [s for s in _FEW_SHOT if s["task_id"] != task_id][:k]

