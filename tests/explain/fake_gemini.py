"""A local stand-in for the Gemini API, so the real google-genai client can be tested offline.

It answers `POST …/models/{model}:generateContent` with scripted replies (the last one repeats)
and keeps every request exactly as received: request line, headers and body bytes.
"""

import http.server
import json
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    hang: bool = False


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    raw: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


def ok(content: Any, *, model_version: str = "gemini-test-flash-001") -> Reply:
    """A successful reply whose text is `content` (a dict is sent as JSON text, as Gemini does)."""
    text = content if isinstance(content, str) else json.dumps(content)
    body = {
        "candidates": [
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "modelVersion": model_version,
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 20,
            "totalTokenCount": 30,
        },
    }
    return Reply(200, json.dumps(body).encode())


def blocked() -> Reply:
    body = {
        "candidates": [{"finishReason": "SAFETY", "index": 0}],
        "modelVersion": "gemini-test-flash-001",
    }
    return Reply(200, json.dumps(body).encode())


def error(status: int, name: str) -> Reply:
    """An error in the shape Google APIs use."""
    body = {"error": {"code": status, "message": f"fake {name}", "status": name}}
    return Reply(status, json.dumps(body).encode())


def raw(status: int, body: bytes) -> Reply:
    return Reply(status, body)


def hang() -> Reply:
    """Accept the request and never answer (until the server stops)."""
    return Reply(hang=True)


class FakeGemini:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._replies: list[Reply] = [error(500, "INTERNAL")]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll keeps stop() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reply_with(self, *replies: Reply) -> None:
        with self._lock:
            self._replies = list(replies)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with fake._lock:
                    fake.requests.append(
                        Request(
                            path=self.path,
                            headers=dict(self.headers.items()),
                            body=body,
                            raw=self.raw_requestline + self.headers.as_bytes() + body,
                        )
                    )
                if not self.path.endswith(":generateContent"):
                    reply = error(404, "NOT_FOUND")
                else:
                    reply = fake._next_reply()
                if reply.hang:
                    fake._stopping.wait(timeout=30)
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler
