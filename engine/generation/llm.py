"""The chat model: llama-cpp-python behind a small protocol, one lock, streaming, prompt stop.

A ``Llama`` object is not thread-safe, so every call into it holds ``self._lock`` (as
llama-cpp-python's own server does). llama.cpp's log goes to the ``llama.cpp`` logger, never to a
terminal: a windowed app has none.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypedDict

import numpy as np

from engine.errors import HushdocsError, ModelLoadError
from engine.generation.cpu_backend import CpuBackend, load_cpu_backend
from engine.generation.speeds import Speed, speed_of

log = logging.getLogger(__name__)
llama_log = logging.getLogger("llama.cpp")


class ChatMessage(TypedDict):
    role: str  # "system", "user" or "assistant"
    content: str


# Stands in for each message's content while the chat template is applied (an invisible separator).
_SLOT = "\u2063"


class Generator(Protocol):
    name: str
    n_ctx: int
    # Each token of the last reply: the text it added and the natural log of the probability the model gave it
    # (at temperature 1), in order; empty where the backend does not tell.
    reply_tokens: list[tuple[str, float]]
    # The probability the model gave, at the last reply's first token, to opening with the ``withhold`` text it
    # was then not allowed to write; None where the backend does not tell or nothing was withheld.
    withheld_probability: float | None
    # How fast the last reply came (its uncached prompt and its decode), None where it was not timed here.
    last_speed: Speed | None

    def stream_chat(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float,
                    stop: threading.Event | None = None, withhold: str = "") -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class GeneratorOptions:
    n_ctx: int = 8192
    n_threads: int = 0  # 0: llama.cpp's choice (physical cores)
    n_gpu_layers: int = 0  # -1: every layer on the GPU when llama.cpp was built with one
    seed: int = 0
    # llama.cpp's own default; llama-cpp-python turns it off unless asked. On 2 CPU cores it evaluates a
    # 380-token prompt in 1.69 s instead of 1.89 s (bench/ask_speed.py measures the whole path).
    flash_attn: bool = True


# ggml's enum today: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the previous line).
_LOG_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_log_callback_ref: Any = None
_last_level = logging.DEBUG


def _route_llama_log_to_logging() -> None:
    """Send llama.cpp's own log lines to the app's log instead of stderr (kept once per process)."""
    global _log_callback_ref
    if _log_callback_ref is not None:
        return
    import llama_cpp  # noqa: PLC0415 - heavy, loaded on first use

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
    import llama_cpp  # noqa: PLC0415 - heavy, loaded on first use

    load_cpu_backend()  # before llama.cpp looks for backends itself (it would not find the CPU variants)
    return bool(llama_cpp.llama_supports_gpu_offload())


class LlamaGenerator:
    def __init__(self, model_path: Path, options: GeneratorOptions = GeneratorOptions()) -> None:
        _route_llama_log_to_logging()
        from llama_cpp import Llama  # noqa: PLC0415 - heavy, loaded on first use

        if not model_path.is_file():
            raise ModelLoadError(f"Chat model file not found: {model_path}")
        self.cpu_backend: CpuBackend = load_cpu_backend()  # before Llama() initialises llama.cpp's backends
        try:
            self._llm = Llama(
                model_path=str(model_path),
                n_ctx=options.n_ctx,
                n_threads=options.n_threads or None,
                n_threads_batch=options.n_threads or None,
                n_gpu_layers=options.n_gpu_layers,
                flash_attn=options.flash_attn,
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
        self._closed = False
        self._abort_callback: Any = None
        self._piece_buffer = ctypes.create_string_buffer(64)
        self.reply_tokens: list[tuple[str, float]] = []
        self.withheld_probability: float | None = None
        self.last_speed: Speed | None = None  # of the last reply: uncached prompt tokens and reply tokens a second
        self._check_chat_template()

    def _check_chat_template(self) -> None:
        """Format prompts with the GGUF's own chat template; without one, say so and use ChatML (llama-cpp-python
        would silently fall back to the llama-2 format)."""
        from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE, Jinja2ChatFormatter  # noqa: PLC0415 - heavy

        template = str(self._llm.metadata.get("tokenizer.chat_template") or "")
        self.chat_format = "gguf template"
        if not template:
            template, self.chat_format = CHATML_CHAT_TEMPLATE, "chatml"
            self.warning = (f"{self.name} carries no chat template; using ChatML, which may not suit it. "
                            "Answers may be poor.")
            log.warning(self.warning)
        model = self._llm._model
        eos = model.token_get_text(self._llm.token_eos()) if self._llm.token_eos() >= 0 else ""
        bos = model.token_get_text(self._llm.token_bos()) if self._llm.token_bos() >= 0 else ""
        self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        log.info("chat model %s: chat format %s, n_ctx %d", self.name, self.chat_format, self.n_ctx)

    @contextmanager
    def _model(self) -> Iterator[None]:
        """The lock, and the promise that the model is still loaded: a closed llama.cpp model crashes the process
        when used (a window closed while an answer was still being prepared)."""
        with self._lock:
            self._check_open()
            yield

    def _check_open(self) -> None:
        if self._closed:
            raise HushdocsError(f"The chat model {self.name} was closed.")

    def count_tokens(self, text: str) -> int:
        with self._model():
            return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def apply_template(self, messages: Sequence[ChatMessage]) -> str:
        """The exact prompt text the chat template makes of ``messages``, ready for the reply."""
        return str(self._formatter(messages=list(messages)).prompt)  # type: ignore[arg-type]

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        return self._message_tokens(messages)[0]

    def _message_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], list[int]]:
        """The prompt's tokens, and where each message's content starts among them.

        Only the chat template's own text is parsed for control tokens; every message's content is
        tokenised as plain text, so a document (or a question) that contains "<|im_start|>system",
        "[INST]" or "<start_of_turn>" can never produce the template's control tokens.
        """
        slots = [f"{_SLOT}{i}{_SLOT}" for i in range(len(messages))]
        text = self.apply_template([{"role": m["role"], "content": slot} for m, slot in zip(messages, slots,
                                                                                             strict=True)])
        tokens: list[int] = []
        starts: list[int] = []
        position = 0
        for message, slot in zip(messages, slots, strict=True):
            at = text.find(slot, position)
            if at < 0:  # a template that leaves a message out (some drop the system prompt)
                starts.append(len(tokens))
                continue
            tokens += self._tokenize(text[position:at], special=True)
            starts.append(len(tokens))
            tokens += self._tokenize(message["content"], special=False)
            position = at + len(slot)
        tokens += self._tokenize(text[position:], special=True)
        return tokens, starts

    def _tokenize(self, text: str, *, special: bool) -> list[int]:
        if not text:
            return []
        self._check_open()
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def stream_chat(self, messages: Sequence[ChatMessage], *, max_tokens: int = 512, temperature: float = 0.1,
                    stop: threading.Event | None = None, withhold: str = "") -> Iterator[str]:
        """Yield the reply piece by piece; setting ``stop`` ends it before the next token.

        ``withhold``: a reply the model may not open with (its first token is withheld at the first position);
        the probability the model gave that token is kept in ``withheld_probability``.

        llama.cpp's decode loop is driven directly: ``create_chat_completion`` re-detokenises the whole
        reply and scans it for stop strings at every token, which cost about 10% of decode speed. A prompt
        that starts like the previous one (the system prompt, always) reuses its KV cache.
        """
        import llama_cpp  # noqa: PLC0415 - heavy, loaded on first use

        with self._model():
            tokens = self.prompt_tokens(messages)
            max_tokens = min(max_tokens, self.n_ctx - len(tokens))
            if max_tokens <= 0:
                raise ValueError(f"The prompt ({len(tokens)} tokens) fills the model's context ({self.n_ctx}).")
            vocab = self._llm._model.vocab
            self.reply_tokens = []
            self.last_speed = None
            uncached = len(tokens) - self._cached_prefix(tokens)
            decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a character may span two tokens
            self.withheld_probability = None
            processors = llama_cpp.LogitsProcessorList([self._withholder(withhold)]) if withhold else None
            sampled = self._llm.generate(tokens, temp=temperature, top_k=40, top_p=0.95, min_p=0.05,
                                         repeat_penalty=1.0, reset=True, logits_processor=processors)
            self._abort_when(stop)  # the prompt's evaluation (seconds on a small CPU) ends as soon as stop is set
            started = first = last = time.perf_counter()
            produced = 0
            try:
                for produced, token in enumerate(sampled, start=1):
                    last = time.perf_counter()
                    if produced == 1:
                        first = last
                        self._abort_when(None)  # from here stop is checked between tokens, at no cost per token
                    if (stop is not None and stop.is_set()) or llama_cpp.llama_vocab_is_eog(vocab, token):
                        break
                    piece = decoder.decode(self._piece(token))
                    self.reply_tokens.append((piece, self._logprob(token)))
                    if piece:
                        yield piece
                    if produced >= max_tokens:
                        break
            except RuntimeError:  # llama_decode's "aborted": the tokens evaluated so far stay cached
                if stop is None or not stop.is_set():
                    raise
                return
            finally:
                self._abort_when(None)
                self.last_speed = speed_of(uncached, first - started, produced, last - first)
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail

    def _withholder(self, withhold: str) -> Any:
        """A logits processor for one reply: at its first position, keep the probability (at temperature 1, as
        ``reply_tokens``) of ``withhold``'s first token, with or without a leading space, then rule that token
        out; later positions pass unchanged. It runs first in llama-cpp-python's sampler chain, so ``scores`` is
        the whole vocabulary in token order (a view on llama.cpp's candidates: about 0.04 ms a token)."""
        opening = np.array(sorted({self._tokenize(text, special=False)[0] for text in (withhold, " " + withhold)}))
        first = True

        def processor(_input_ids: Any, scores: Any) -> Any:
            nonlocal first
            if first:
                first = False
                weights = np.exp(scores.astype(np.float64) - float(scores.max()))
                self.withheld_probability = float(weights[opening].sum() / weights.sum())
                scores[opening] = -np.inf
            return scores

        return processor

    def _logprob(self, token: int) -> float:
        """The log-probability of ``token`` under the logits it was just sampled from (the last position's:
        llama.cpp keeps them until the token is evaluated). About 0.3 ms against 30 ms a token."""
        import llama_cpp  # noqa: PLC0415 - heavy, loaded on first use

        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._llm._ctx.ctx, -1),
                                       shape=(self._llm.n_vocab(),))
        top = float(logits.max())
        return float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))

    def _abort_when(self, stop: threading.Event | None) -> None:
        """Let llama.cpp abandon its current evaluation once ``stop`` is set (None: never). ggml asks after every
        node of the graph, so the callback is installed only for the prompt, where a node is a large matrix
        product; for single tokens it would cost a Python call per node."""
        import llama_cpp  # noqa: PLC0415 - heavy, loaded on first use

        if stop is None:
            llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, llama_cpp.ggml_abort_callback(), None)
            return

        @llama_cpp.ggml_abort_callback  # type: ignore[untyped-decorator]
        def abort(_data: ctypes.c_void_p) -> bool:
            return stop.is_set()

        self._abort_callback = abort  # a ctypes callback must outlive its registration
        llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, abort, None)

    def _piece(self, token: int) -> bytes:
        import llama_cpp  # noqa: PLC0415 - heavy, loaded on first use

        size = llama_cpp.llama_token_to_piece(self._llm._model.vocab, token, self._piece_buffer,
                                              len(self._piece_buffer), 0, False)
        if size < 0:  # longer than the buffer: llama.cpp says how long it is
            self._piece_buffer = ctypes.create_string_buffer(-size)
            return self._piece(token)
        return self._piece_buffer.raw[:size]

    def cached_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """How many of the prompt's first tokens are already evaluated (the KV cache's common prefix)."""
        with self._model():
            return self._cached_prefix(self.prompt_tokens(messages))

    def _cached_prefix(self, tokens: Sequence[int]) -> int:
        held = list(self._llm.input_ids[: self._llm.n_tokens])
        common = 0
        for mine, cached in zip(tokens, held, strict=False):
            if mine != cached:
                break
            common += 1
        return common

    def prefill(self, messages: Sequence[ChatMessage]) -> int:
        """Evaluate the start every prompt shares (the system prompt), so that the first question pays only
        for its own documents. ``messages`` is a sample prompt; its last message's content is left out.
        Returns how many tokens are now cached."""
        with self._model():
            tokens, starts = self._message_tokens([*messages[:-1], {"role": messages[-1]["role"], "content": ""}])
            self._llm.reset()  # type: ignore[no-untyped-call]
            self._llm.eval(tokens[: starts[-1]])
            return int(self._llm.n_tokens)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._llm.close()
