"""Scripted fake model servers for the adapter tests: real HTTP on 127.0.0.1, spoken to by the real SDKs.

:class:`OpenAIServer` answers ``POST /v1/chat/completions`` like the OpenAI chat-completions API,
:class:`AnthropicServer` answers ``POST /v1/messages`` like the Anthropic Messages API.  A test
scripts the answers in order (``server.script(...)``); each item is

- a dict: a JSON body answered with status 200 (build one with ``server.tool_call(...)``,
  ``server.text(...)``);
- a :class:`Reply`: status, headers, body (dict → JSON, str → as is with ``content_type``) and a
  delay in seconds before answering; ``error(...)``, ``html(...)`` and ``delay(...)`` build them;
- a callable ``f(body) -> item``: decides from the request body.

When the script is used up, the server answers with ``default`` (a ``finish`` call unless set).
Every request is recorded (``server.requests``: path, lower-cased headers, parsed body), and the
server tracks how many requests were in flight at once (``server.max_in_flight``).

Like the real APIs, both servers refuse tool names outside ``^[a-zA-Z0-9_-]{1,64}$`` (400), and
``reject_tools=True`` makes them answer 400 "does not support tools" to any request with tools
(an Ollama / vLLM server without tool support).  The Anthropic one, like the API, refuses
``temperature``/``top_p``/``top_k`` under ``anthropic-version`` 2026-10-21 and later.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Reply", "error", "html", "delay", "OpenAIServer", "AnthropicServer", "closed_port_url"]

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ids = itertools.count(1)


@dataclass
class Reply:
    """One scripted answer."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (the request counts as in flight meanwhile)."""
    content_type: str = "application/json"


def error(status: int, message: str, *, headers: dict[str, str] | None = None, type: str = "invalid_request_error",
          code: str | None = None, anthropic: bool = False) -> Reply:
    """An API error in the provider's envelope."""
    if anthropic:
        body = {"type": "error", "error": {"type": type, "message": message}}
    else:
        body = {"error": {"message": message, "type": type, "param": None, "code": code}}
    return Reply(body=body, status=status, headers=dict(headers or {}))


def html(status: int = 200, title: str = "502 Bad Gateway") -> Reply:
    """An HTML page where JSON was expected (a proxy's error page, a web server's index)."""
    page = (f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n<body><center><h1>{title}</h1></center>"
            "<hr><center>nginx/1.24.0</center></body></html>\n")
    return Reply(body=page, status=status, content_type="text/html; charset=utf-8")


def delay(seconds: float, then: Any = None) -> Reply:
    """Wait ``seconds`` before answering ``then`` (the default answer when None)."""
    if then is None:
        return Reply(body=None, delay=seconds)
    reply = then if isinstance(then, Reply) else Reply(body=then)
    return Reply(body=reply.body, status=reply.status, headers=reply.headers, delay=seconds,
                 content_type=reply.content_type)


def closed_port_url(path: str = "/v1") -> str:
    """A base URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_HTTPServer"

    def setup(self) -> None:
        super().setup()
        self.server.owner._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._connections.discard(self.connection)

    def do_POST(self) -> None:
        self.server.owner._handle(self)

    def do_GET(self) -> None:
        self.server.owner._send(self, self.server.owner._not_found(self.path))

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: "_FakeServer"


class _FakeServer:
    path = "/"
    prefix = ""

    def __init__(self, default: Any = None, *, reject_tools: bool = False):
        self.default = default if default is not None else self.finish_call()
        self.reject_tools = reject_tools
        self.queue: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "_FakeServer":
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"{type(self).__name__}")
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving: later requests find the port closed; open connections are cut."""
        if self._httpd is None:
            return
        self._stop.set()  # wake handlers in a scripted delay
        self._httpd.shutdown()
        self._httpd.server_close()
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> "_FakeServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The base URL to give the SDK client."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    # ------------------------------------------------------------------ scripting
    def script(self, *items: Any) -> "_FakeServer":
        with self._lock:
            self.queue.extend(items)
        return self

    @property
    def bodies(self) -> list[Any]:
        return [r["body"] for r in self.requests]

    # ------------------------------------------------------------------ serving
    def _handle(self, h: _Handler) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append({"path": h.path, "headers": {k.lower(): v for k, v in h.headers.items()},
                                  "body": body, "time": time.monotonic()})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self._reply_for(h.path, body, {k.lower(): v for k, v in h.headers.items()})
            if reply.delay:
                self._stop.wait(reply.delay)
                if self._stop.is_set():
                    return
            self._send(h, reply)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _reply_for(self, path: str, body: Any, headers: dict[str, str]) -> Reply:
        if path.split("?")[0] != self.path:
            return self._not_found(path)
        problem = self._validate(body, headers)
        if problem is not None:
            return problem
        with self._lock:
            item = self.queue.pop(0) if self.queue else self.default
        reply = self._resolve(item, body)
        if reply.body is None and reply.status == 200:  # delay(seconds): then the default answer
            d = self._resolve(self.default, body)
            if d.body is None:
                d = Reply(body=self.finish_call())
            reply = Reply(body=d.body, status=d.status, headers=d.headers, delay=reply.delay,
                          content_type=d.content_type)
        if isinstance(reply.body, dict) and reply.status == 200:
            reply.body = self._finish(reply.body, body)
        return reply

    @staticmethod
    def _resolve(item: Any, body: Any) -> Reply:
        if callable(item) and not isinstance(item, Reply):
            item = item(body)
        return item if isinstance(item, Reply) else Reply(body=item)

    def _send(self, h: _Handler, reply: Reply) -> None:
        if isinstance(reply.body, (dict, list)):
            data = json.dumps(reply.body).encode()
        elif isinstance(reply.body, bytes):
            data = reply.body
        else:
            data = str(reply.body or "").encode()
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.content_type)
            h.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                h.send_header(k, str(v))
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:  # the client gave up (timeout) and closed the connection
            h.close_connection = True

    # ------------------------------------------------------------------ provider specifics
    def _not_found(self, path: str) -> Reply:
        raise NotImplementedError

    def _validate(self, body: Any, headers: dict[str, str]) -> Reply | None:
        raise NotImplementedError

    def _finish(self, response: dict[str, Any], request: Any) -> dict[str, Any]:
        return response

    def finish_call(self) -> dict[str, Any]:
        raise NotImplementedError


class OpenAIServer(_FakeServer):
    """``POST /v1/chat/completions`` (base URL ``http://127.0.0.1:PORT/v1``)."""

    path = "/v1/chat/completions"
    prefix = "/v1"

    @staticmethod
    def tool_call(name: str, arguments: Any, *, content: str | None = None, usage: tuple[int, int] = (100, 10),
                  calls: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
        """A completion with one tool call (``arguments``: a dict, or a string sent as is)."""
        pairs = calls if calls is not None else [(name, arguments)]
        tool_calls = [{"id": f"call_{next(_ids)}", "type": "function",
                       "function": {"name": n, "arguments": a if isinstance(a, str) else json.dumps(a)}}
                      for n, a in pairs]
        return OpenAIServer._completion({"role": "assistant", "content": content, "tool_calls": tool_calls,
                                         "refusal": None}, "tool_calls", usage)

    @staticmethod
    def text(content: str, *, usage: tuple[int, int] = (100, 10)) -> dict[str, Any]:
        return OpenAIServer._completion({"role": "assistant", "content": content, "refusal": None}, "stop", usage)

    @staticmethod
    def _completion(message: dict[str, Any], finish_reason: str, usage: tuple[int, int]) -> dict[str, Any]:
        return {"id": f"chatcmpl-{next(_ids)}", "object": "chat.completion", "created": int(time.time()),
                "model": None, "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
                "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                          "total_tokens": usage[0] + usage[1]}}

    def finish_call(self) -> dict[str, Any]:
        return self.tool_call("finish", {"status": "failure", "message": "default answer"})

    def _finish(self, response: dict[str, Any], request: Any) -> dict[str, Any]:
        if "model" in response and response["model"] is None and isinstance(request, dict):
            response = {**response, "model": request.get("model")}
        return response

    def _not_found(self, path: str) -> Reply:
        return error(404, f"Invalid URL (POST {path})")

    def _validate(self, body: Any, headers: dict[str, str]) -> Reply | None:
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            return error(400, "you must provide a model parameter and a messages list")
        tools = body.get("tools")
        if tools is not None:
            for i, t in enumerate(tools):
                name = (t.get("function") or {}).get("name", "")
                if not TOOL_NAME.match(name):  # as api.openai.com does
                    return error(400, f"Invalid 'tools[{i}].function.name': string does not match pattern. "
                                      "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                                 code="invalid_value")
            if self.reject_tools:
                return error(400, f"registry.ollama.ai/library/{body['model']} does not support tools",
                             type="api_error")
        return None


class AnthropicServer(_FakeServer):
    """``POST /v1/messages`` (base URL ``http://127.0.0.1:PORT``)."""

    path = "/v1/messages"
    prefix = ""

    @staticmethod
    def tool_use(name: str, input: dict[str, Any], *, text: str | None = None,
                 usage: tuple[int, int] = (100, 10)) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        blocks.append({"type": "tool_use", "id": f"toolu_{next(_ids):08d}", "name": name, "input": input})
        return AnthropicServer._message(blocks, "tool_use", usage)

    @staticmethod
    def text(content: str, *, usage: tuple[int, int] = (100, 10)) -> dict[str, Any]:
        return AnthropicServer._message([{"type": "text", "text": content}], "end_turn", usage)

    @staticmethod
    def _message(blocks: list[dict[str, Any]], stop_reason: str, usage: tuple[int, int]) -> dict[str, Any]:
        return {"id": f"msg_{next(_ids):08d}", "type": "message", "role": "assistant", "model": None,
                "content": blocks, "stop_reason": stop_reason, "stop_sequence": None,
                "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}

    def finish_call(self) -> dict[str, Any]:
        return self.tool_use("finish", {"status": "failure", "message": "default answer"})

    def _finish(self, response: dict[str, Any], request: Any) -> dict[str, Any]:
        if response.get("model", "") is None and isinstance(request, dict):
            response = {**response, "model": request.get("model")}
        return response

    def _not_found(self, path: str) -> Reply:
        return error(404, f"Not found: {path}", type="not_found_error", anthropic=True)

    def _validate(self, body: Any, headers: dict[str, str]) -> Reply | None:
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list) \
                or not isinstance(body.get("max_tokens"), int):
            return error(400, "model, messages and max_tokens are required", anthropic=True)
        if headers.get("anthropic-version", "2023-06-01") >= "2026-10-21":  # the API version without sampling
            for key in ("temperature", "top_p", "top_k"):
                if key in body:
                    return error(400, f"{key}: Extra inputs are not permitted", anthropic=True)
        if any(m.get("role") not in ("user", "assistant") for m in body["messages"]):
            return error(400, "messages: Unexpected role \"system\". The Messages API accepts a top-level "
                              "`system` parameter, not \"system\" as an input message role.", anthropic=True)
        for i, t in enumerate(body.get("tools") or []):
            if not TOOL_NAME.match(t.get("name", "")):
                return error(400, f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'",
                             anthropic=True)
            if "input_schema" not in t:
                return error(400, f"tools.{i}.custom.input_schema: Field required", anthropic=True)
        if body.get("tools") and self.reject_tools:
            return error(400, "tools are not supported by this model", anthropic=True)
        return None
