"""Answers written by a chat server on the person's network: the OpenAI-compatible chat API over HTTP.

llama.cpp's ``llama-server``, llama-cpp-python's ``llama_cpp.server``, vLLM, Ollama and LM Studio all speak
``POST /v1/chat/completions`` with ``"stream": true`` (server-sent events, one ``data:`` line a piece) and list
their models at ``GET /v1/models``. The server applies its model's chat template itself.

The client is the standard library's ``http.client``: a request, a status and a line-by-line stream are all
this needs, it adds no dependency (``requests`` is here only as rapidocr's), and a connect timeout apart from
the read timeout is one ``settimeout`` away. What the server offers beyond the chat API is asked once, when
the generator is made:

- tokens are counted by the server's own tokenizer where it has an endpoint for it (llama.cpp's
  ``/tokenize``, llama-cpp-python's ``/extras/tokenize/count``), one request a count on a kept-open
  connection; elsewhere (vLLM, Ollama, LM Studio) estimated here, high on purpose (``estimate_tokens``);
- the context window is the server's where it says (llama.cpp's ``/props``, vLLM's ``max_model_len`` in
  ``/v1/models``), else the Context size setting.

Every failure is an ``AnswerServerError`` naming the server's address and what went wrong.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.errors import HushdocsError
from engine.generation.llm import ChatMessage
from engine.generation.speeds import Speed

CONNECT_TIMEOUT_S = 5.0  # a host that does not accept within this is down or unreachable
READ_TIMEOUT_S = 300.0  # the longest silence allowed in a reply: a busy server may queue the question first
STOP_POLL_S = 0.1  # how often a waiting stream looks at its stop event
# What a server without an endpoint answers to it: the probes take these as "not offered".
_ABSENT_STATUSES = (400, 404, 405, 422, 501)
# The tokenizer endpoints known, each with the JSON field that carries the text.
_TOKENIZERS = (("/tokenize", "content"), ("/extras/tokenize/count", "input"))


class AnswerServerError(HushdocsError):
    """The answer server could not be reached, or it answered with an error."""


@dataclass(frozen=True)
class ServerAddress:
    scheme: str  # "http" or "https"
    host: str
    port: int
    base_path: str  # a prefix before /v1 ("" for most servers; a reverse proxy may add one)

    @classmethod
    def parse(cls, text: str) -> ServerAddress:
        """``http://gpu-box.lan:8080``, with or without ``/v1`` at its end; ``gpu-box.lan:8080`` means http."""
        cleaned = text.strip()
        if "://" not in cleaned:
            cleaned = f"http://{cleaned}"
        try:
            parts = urlsplit(cleaned)
            port = parts.port
        except ValueError as exc:
            raise HushdocsError(f"The answer server address {text!r} is not valid ({exc}).") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HushdocsError(f"The answer server address {text!r} is not a web address like "
                                "http://gpu-box.lan:8080.")
        path = parts.path.rstrip("/")
        if path.endswith("/v1"):
            path = path[: -len("/v1")]
        default_port = 443 if parts.scheme == "https" else 80
        return cls(parts.scheme, parts.hostname.lower(), port or default_port, path)

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.base_path}"


def estimate_tokens(text: str) -> int:
    """A count of tokens that errs high: a UTF-8 byte in three. English runs about four characters a token and
    CJK about one a character, so the passages chosen by it never overflow the server's window."""
    return math.ceil(len(text.encode("utf-8")) / 3)


class RemoteGenerator:
    """The ``Generator`` protocol over a chat server. Several threads may use one: each stream has its own
    connection, and the kept-open one for token counts and model questions is used under a lock."""

    def __init__(self, address: ServerAddress, *, model: str = "", api_key: str = "",
                 default_n_ctx: int = 8192, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 read_timeout_s: float = READ_TIMEOUT_S) -> None:
        self.address = address
        self._api_key = api_key
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None
        listed = self._json("GET", "/v1/models", probe=False) or {}
        served = [entry for entry in listed.get("data") or [] if isinstance(entry, dict) and entry.get("id")]
        ids = [str(entry["id"]) for entry in served]
        if model and ids and model not in ids:
            raise AnswerServerError(f"The answer server at {address.url} has no model named {model!r}; it offers: "
                                    f"{', '.join(ids)}.")
        if not model and not ids:
            raise AnswerServerError(f"The answer server at {address.url} lists no model (GET /v1/models).")
        self.model = model or ids[0]
        self.name = self.model.replace("\\", "/").rsplit("/", 1)[-1]  # llama-cpp-python names it by its path
        self.n_ctx, self.n_ctx_source = self._context_window(served, default_n_ctx)
        self._tokenizer = self._find_tokenizer()
        self.token_counting = (f"the server's {self._tokenizer[0]}" if self._tokenizer
                               else "an estimate (a token for every 3 bytes)")
        self.warning = ""
        self.reply_tokens: list[tuple[str, float]] = []  # not asked of the server
        self.withheld_probability: float | None = None  # a server's sampler is its own
        self.last_speed: Speed | None = None  # the server's speed is not this computer's: never recorded

    # -- what the server offers ---------------------------------------------------------------------

    def _context_window(self, served: list[dict[str, Any]], default: int) -> tuple[int, str]:
        props = self._json("GET", "/props") or {}
        settings = props.get("default_generation_settings")
        n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
        if isinstance(n_ctx, int) and n_ctx > 0:
            return n_ctx, "the server's /props"
        for entry in served:
            length = entry.get("max_model_len")
            if entry["id"] == self.model and isinstance(length, int) and length > 0:
                return length, "the server's /v1/models"
        return default, "the Context size setting"

    def _find_tokenizer(self) -> tuple[str, str] | None:
        for path, field in _TOKENIZERS:
            reply = self._json("POST", path, {field: "Hushdocs", "model": self.model})
            if reply is not None and _token_count(reply) is not None:
                return path, field
        return None

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is None:
            return estimate_tokens(text)
        path, field = self._tokenizer
        count = _token_count(self._json("POST", path, {field: text, "model": self.model}, probe=False) or {})
        if count is None:
            raise AnswerServerError(f"The answer server at {self.address.url} sent no token count from {path}.")
        return count

    # -- answers ------------------------------------------------------------------------------------

    def stream_chat(self, messages: Sequence[ChatMessage], *, max_tokens: int = 512, temperature: float = 0.1,
                    stop: threading.Event | None = None, withhold: str = "") -> Iterator[str]:
        """Yield the reply piece by piece as the server streams it. Setting ``stop`` ends it before the next
        piece, even while the server is still silent (queued, or reading the prompt): the connection is shut,
        which tells the server to stop writing."""
        body = {"model": self.model, "messages": list(messages), "max_tokens": max_tokens,
                "temperature": temperature, "stream": True}
        connection = self._open()
        finished = threading.Event()
        watch = threading.Thread(target=_shut_on_stop, args=(connection, stop, finished), daemon=True,
                                 name="answer server stop")
        if stop is not None:
            watch.start()
        try:
            response = self._send(connection, "POST", "/v1/chat/completions", body)
            if "text/event-stream" not in (response.getheader("Content-Type") or ""):
                yield from _pieces(self._parse(response.read(), "/v1/chat/completions"), self.address)
                return
            for data in _event_data(response, self.address):
                if stop is not None and stop.is_set():
                    return
                if data == "[DONE]":
                    return
                yield from _pieces(self._parse(data.encode("utf-8"), "/v1/chat/completions"), self.address)
            if stop is None or not stop.is_set():
                # llama-cpp-python's server, for one, fails a streamed reply (a prompt too long for its window)
                # by ending it early, the reason only in its own log.
                raise AnswerServerError(f"The answer server at {self.address.url} ended its reply before finishing "
                                        "it (without [DONE]); its own log says why.")
        except (OSError, http.client.HTTPException) as exc:
            if stop is not None and stop.is_set():
                return  # the watch shut the connection: this is the stop, not a failure
            raise self._failure(exc, connecting=False) from exc
        finally:
            finished.set()
            if watch.is_alive():
                watch.join()
            connection.close()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # -- HTTP ---------------------------------------------------------------------------------------

    def _open(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.address.scheme == "https" else http.client.HTTPConnection
        connection = kind(self.address.host, self.address.port, timeout=self._connect_timeout_s)
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            raise self._failure(exc, connecting=True) from exc
        assert connection.sock is not None
        connection.sock.settimeout(self._read_timeout_s)
        return connection

    def _send(self, connection: http.client.HTTPConnection, method: str, path: str,
              body: dict[str, Any] | None) -> http.client.HTTPResponse:
        """The server's response, its status 200; any other status is a ``_StatusError`` with its reason."""
        headers = {"Accept": "application/json, text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        connection.request(method, self.address.base_path + path, body=payload, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            detail = _error_message(response.read())
            hint = " Check the API key in Settings." if response.status in (401, 403) else ""
            raise _StatusError(response.status, f"The answer server at {self.address.url} refused {method} {path} "
                                                f"({response.status} {response.reason}){detail}.{hint}")
        return response

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None, *,
              probe: bool = True) -> dict[str, Any] | None:
        """One request on the kept-open connection. With ``probe``, an endpoint this server does not have
        gives None instead of an error."""
        with self._lock:
            reused = self._connection is not None
            try:
                return self._exchange(method, path, body, probe)
            except (ConnectionResetError, BrokenPipeError) as exc:  # RemoteDisconnected is a ConnectionResetError
                self._drop_connection()
                if not reused:
                    raise self._failure(exc, connecting=False) from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                raise self._failure(exc, connecting=False) from exc
            # The server had closed the kept-open connection in the meantime: once more, on a new one.
            try:
                return self._exchange(method, path, body, probe)
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                raise self._failure(exc, connecting=False) from exc

    def _exchange(self, method: str, path: str, body: dict[str, Any] | None, probe: bool) -> dict[str, Any] | None:
        if self._connection is None:
            self._connection = self._open()
        try:
            response = self._send(self._connection, method, path, body)
        except _StatusError as error:
            if probe and error.status in _ABSENT_STATUSES:
                return None
            raise
        return self._parse(response.read(), path)

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _parse(self, raw: bytes, path: str) -> dict[str, Any]:
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise AnswerServerError(f"The answer server at {self.address.url} sent something that is not JSON "
                                    f"from {path}: {raw[:200]!r}") from exc
        if not isinstance(parsed, dict):
            raise AnswerServerError(f"The answer server at {self.address.url} sent {type(parsed).__name__} "
                                    f"from {path}, not a JSON object.")
        return parsed

    def _failure(self, exc: BaseException, *, connecting: bool) -> AnswerServerError:
        """What a failed connection means, in words, with the server's address."""
        if isinstance(exc, ConnectionRefusedError):
            reason = "nothing is listening on that port (connection refused)"
        elif isinstance(exc, TimeoutError):
            reason = (f"it did not accept a connection within {self._connect_timeout_s:g} s" if connecting
                      else f"it went silent for {self._read_timeout_s:g} s")
        elif isinstance(exc, socket.gaierror):
            reason = f"the name {self.address.host!r} was not found ({exc.strerror or exc})"
        elif isinstance(exc, ConnectionResetError | BrokenPipeError):
            reason = "it closed the connection"
        else:
            reason = str(exc) or type(exc).__name__
        return AnswerServerError(f"Could not get an answer from the answer server at {self.address.url}: {reason}. "
                                 "Check that it is running and that Settings (Write answers with) name it right.")


class _StatusError(AnswerServerError):
    """The server answered with a status other than 200."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _shut_on_stop(connection: http.client.HTTPConnection, stop: threading.Event | None,
                  finished: threading.Event) -> None:
    """Shut the stream's connection once ``stop`` is set, so that a read waiting on a silent server returns."""
    assert stop is not None
    while not finished.wait(STOP_POLL_S):
        if stop.is_set():
            if connection.sock is not None:
                with contextlib.suppress(OSError):  # already closed by the server
                    connection.sock.shutdown(socket.SHUT_RDWR)
            return


def _event_data(response: http.client.HTTPResponse, address: ServerAddress) -> Iterator[str]:
    """The ``data`` of each server-sent event (its data lines joined); an ``error`` field is raised."""
    lines: list[str] = []
    while True:
        raw = response.readline()
        if not raw:
            if lines:
                yield "\n".join(lines)
            return
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
            lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
        elif line.startswith("error:"):  # llama.cpp's server reports a failure mid-stream this way
            raise AnswerServerError(f"The answer server at {address.url} failed while answering: {line[6:].strip()}")


def _pieces(event: dict[str, Any], address: ServerAddress) -> Iterator[str]:
    """The text an event (or a whole non-streamed reply) carries."""
    if "error" in event:
        raise AnswerServerError(f"The answer server at {address.url} failed while answering"
                                f"{_error_message(json.dumps(event).encode('utf-8'))}.")
    for choice in event.get("choices") or []:
        part = choice.get("delta") or choice.get("message") or {}
        content = part.get("content") if isinstance(part, dict) else None
        if isinstance(content, str) and content:
            yield content


def _token_count(reply: dict[str, Any]) -> int | None:
    count = reply.get("count")
    if isinstance(count, int):
        return count
    tokens = reply.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None


def _error_message(raw: bytes) -> str:
    """The reason in an error body, as ": reason" ("" when there is none): OpenAI's {"error": {"message": ...}},
    FastAPI's {"detail": ...}, or plain text."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return f": {text[:300]}" if text else ""
    reason: Any = body
    if isinstance(body, dict):
        reason = body.get("error", body.get("detail", body.get("message", body)))
        if isinstance(reason, dict):
            reason = reason.get("message", reason)
    return f": {str(reason)[:300]}"
