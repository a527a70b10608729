"""The chat model: llama-cpp-python behind a small protocol, one lock, streaming, prompt stop.

A ``Llama`` object is not thread-safe, so every call into it holds ``self._lock`` (as
llama-cpp-python's own server does). llama.cpp's log goes to the ``llama.cpp`` logger, never to a
terminal: a windowed app has none.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypedDict

from engine.errors import ModelLoadError

log = logging.getLogger(__name__)
llama_log = logging.getLogger("llama.cpp")


class ChatMessage(TypedDict):
    role: str  # "system", "user" or "assistant"
    content: str


class Generator(Protocol):
    name: str
    n_ctx: int

    def stream_chat(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float,
                    stop: threading.Event | None = None) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class GeneratorOptions:
    n_ctx: int = 8192
    n_threads: int = 0  # 0: llama.cpp's choice (physical cores)
    n_gpu_layers: int = 0  # -1: every layer on the GPU when llama.cpp was built with one
    seed: int = 0


# ggml's enum today: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the previous line).
_LOG_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_log_callback_ref: Any = None
_last_level = logging.DEBUG


def _route_llama_log_to_logging() -> None:
    """Send llama.cpp's own log lines to the app's log instead of stderr (kept once per process)."""
    global _log_callback_ref
    if _log_callback_ref is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        global _last_level
        python_level = _last_level if level == 5 else _LOG_LEVELS.get(level, logging.DEBUG)
        _last_level = python_level
        message = text.decode("utf-8", "replace").rstrip()
        if message:
            llama_log.log(python_level, "%s", message)

    _log_callback_ref = callback  # a ctypes callback must outlive its registration
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


class LlamaGenerator:
    def __init__(self, model_path: Path, options: GeneratorOptions = GeneratorOptions()) -> None:
        _route_llama_log_to_logging()
        from llama_cpp import Llama

        if not model_path.is_file():
            raise ModelLoadError(f"Chat model file not found: {model_path}")
        try:
            self._llm = Llama(
                model_path=str(model_path),
                n_ctx=options.n_ctx,
                n_threads=options.n_threads or None,
                n_threads_batch=options.n_threads or None,
                n_gpu_layers=options.n_gpu_layers,
                seed=options.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"Could not load the chat model {model_path.name}: {exc}") from exc
        self.name = model_path.name
        self.path = model_path
        self.n_ctx = self._llm.n_ctx()
        self.options = options
        self.warning = ""
        self._lock = threading.Lock()
        self._check_chat_template()

    def _check_chat_template(self) -> None:
        """llama-cpp-python silently falls back to the llama-2 format without a template: say so."""
        has_template = bool(self._llm.metadata.get("tokenizer.chat_template"))
        if not has_template and self._llm.chat_format == "llama-2":
            self._llm.chat_format = "chatml"
            self.warning = (f"{self.name} carries no chat template; using ChatML, which may not suit it. "
                            "Answers may be poor.")
            log.warning(self.warning)
        log.info("chat model %s: chat format %s, n_ctx %d", self.name, self._llm.chat_format, self.n_ctx)

    @property
    def chat_format(self) -> str:
        return str(self._llm.chat_format)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream_chat(self, messages: Sequence[ChatMessage], *, max_tokens: int = 512, temperature: float = 0.1,
                    stop: threading.Event | None = None) -> Iterator[str]:
        """Yield the reply piece by piece; setting ``stop`` ends it before the next token."""
        with self._lock:
            stream = self._llm.create_chat_completion(
                messages=list(messages),  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
                stream=True,
            )
            try:
                for part in stream:
                    if stop is not None and stop.is_set():
                        break
                    delta: Any = part["choices"][0]["delta"]  # type: ignore[index]
                    piece = delta.get("content")
                    if piece:
                        yield str(piece)
            finally:
                stream.close()  # type: ignore[union-attr]

    def complete_raw(self, prompt: str, max_tokens: int) -> Iterator[str]:
        """Plain completion of a ready prompt (benchmarks compare the chat path against this)."""
        with self._lock:
            for part in self._llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stream=True):
                yield str(part["choices"][0]["text"])  # type: ignore[index]

    def apply_template(self, messages: Sequence[ChatMessage]) -> str:
        """The exact prompt text the chat template makes of ``messages`` (for raw benchmarks)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = str(self._llm.metadata.get("tokenizer.chat_template", ""))
        eos = self._llm._model.token_get_text(self._llm.token_eos())
        bos = self._llm._model.token_get_text(self._llm.token_bos()) if self._llm.token_bos() >= 0 else ""
        formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        return str(formatter(messages=list(messages)).prompt)  # type: ignore[arg-type]

    def close(self) -> None:
        with self._lock:
            self._llm.close()
