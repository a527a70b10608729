"""User settings that matter for indexing and answers, in one JSON file the GUI edits."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from engine import paths
from engine.retrieval.search import FUSIONS, Fusion

log = logging.getLogger(__name__)

# Settings that take one of a few words: a hand-edited file may hold anything.
ANSWER_SOURCES = ("local", "server")  # answers written by this computer, or by the server at ``server_url``
_CHOICES: dict[str, tuple[str, ...]] = {"fusion": FUSIONS, "answers_from": ANSWER_SOURCES}
# What the loaded chat model was built from: changing one of these means loading the model again.
MODEL_RELOAD_SETTINGS = ("chat_model", "context_size", "gpu_layers", "threads", "answers_from", "server_url",
                         "server_model", "server_api_key")


@dataclass
class Settings:
    # "auto" (the machine decides: engine.generation.models), "fast", "best", a catalogue name or a .gguf path
    chat_model: str = "auto"
    context_size: int = 8192  # tokens of the chat model's window
    # layers offloaded to the GPU when llama.cpp was built with one (-1: all; 0: the CPU only)
    gpu_layers: int = -1
    threads: int = 0  # CPU threads for generation and embedding; 0: automatic
    temperature: float = 0.1
    # passages given to the model per answer; 0: as measured for the chat model (engine.generation.models.READINGS:
    # 3, the 1.5B's 2)
    passages: int = 0
    # each passage cut to its best sentences, at most this many tokens (0: whole ~200-token chunks)
    passage_tokens: int = 80
    # ... except the best-ranked one, cut to at most this many (0: its whole chunk; -1: as measured for the chat
    # model, READINGS again: as long as the others, the 1.5B's up to 160). The answer is often a few sentences
    # past the one holding the question's words.
    best_passage_tokens: int = -1
    # how keyword and vector results are combined: "relative" (scores scaled and averaged) or "rrf"
    fusion: Fusion = "relative"
    # passages re-ranked by their best sentences' cosine to the question, beside their share of its rarer words
    rerank: bool = True
    # Declines (chosen with bench/decline_curve.py on squad-dev and bench/realdocs together): where the model's
    # doubt (max_doubt) is not known, from a server, an answer is declined when the sentences it rests on, each
    # with the one before, hold less than this share of the question's rarer words...
    min_question_coverage: float = 0.1
    # ... or when its cited passages hold more than this share of them elsewhere than in those sentences (the
    # passage speaks of winter storage, the answer quotes the summer fee) and the model was less sure of the words
    # that answer than sure_of_misplaced (a model reading the answer off the page is near 1.0; without
    # probabilities, from a server, it counts as unsure). 1.0 turns this check off.
    max_misplaced_coverage: float = 0.4
    sure_of_misplaced: float = 0.95
    # ... or when the model gave the words that answer (those not taken from the question) less than this
    # probability on average: it was guessing. 0.0 turns this check off...
    min_answer_confidence: float = 0.3
    # ... or when the model, at its reply's first token, gave more than this probability to saying the documents
    # do not answer (its doubt: the prompt offers it that reply, and a local model is not let write it; the
    # probability is read from its logits). 1.0 turns this check off.
    max_doubt: float = 0.25
    max_answer_tokens: int = 512
    max_file_mb: int = 200  # larger files are skipped with a reason
    parse_timeout_s: int = 60  # a file whose parser runs longer is reported, not waited on
    # Who writes the answers: "local" (chat_model, on this computer) or "server", an OpenAI-compatible chat server
    # on the person's network (llama.cpp's llama-server, vLLM, Ollama, LM Studio); the embedder stays local.
    answers_from: str = "local"
    server_url: str = ""  # e.g. http://gpu-box.lan:8080; the only host Hushdocs then contacts
    server_model: str = ""  # the server's model to ask; empty: the first one it lists
    # Sent as "Authorization: Bearer ..." when not empty. Kept in this file (no keyring library is installed), which
    # save() writes readable by its owner only; never shown in a repr or a log.
    server_api_key: str = field(default="", repr=False)
    # A team library on PostgreSQL with pgvector (postgresql://user@host:5432/database), shared with other computers;
    # empty: the data home's own SQLite file. HUSHDOCS_DATABASE_URL and --database URL go before it.
    database_url: str = field(default="", repr=False)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        path = path or paths.settings_path()
        try:
            raw = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("settings file %s unreadable (%s); using defaults", path, exc)
            return cls()
        known = {f.name for f in fields(cls)}
        settings = cls()
        for key, raw_value in raw.items():
            value = raw_value
            if key in known and isinstance(getattr(settings, key), float) and type(value) is int:
                value = float(value)  # a hand-edited file may write 0.5 as a whole number
            if key not in known or not isinstance(value, type(getattr(settings, key))):
                continue
            if key in _CHOICES and value not in _CHOICES[key]:
                log.warning("settings: %s %r is not one of %s; using %r", key, value, ", ".join(_CHOICES[key]),
                            getattr(settings, key))
                continue
            setattr(settings, key, value)
        return settings

    def save(self, path: Path | None = None) -> None:
        """Only the values that differ from the defaults are written, so that a better default in a later
        version reaches everyone who never changed that setting."""
        path = path or paths.settings_path()
        defaults = asdict(Settings())
        changed = {key: value for key, value in asdict(self).items() if value != defaults[key]}
        temporary = path.with_suffix(".tmp")
        # Owner-only (0600) from the first byte, as it may hold the server's API key; a leftover .tmp is replaced.
        temporary.unlink(missing_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(changed, indent=2))
        os.replace(temporary, path)

    def needs_model_reload(self, previous: Settings) -> bool:
        """Whether the chat model loaded with ``previous`` must be loaded again for these settings."""
        return any(getattr(self, name) != getattr(previous, name) for name in MODEL_RELOAD_SETTINGS)

    def effective_threads(self) -> int:
        return self.threads if self.threads > 0 else max(1, os.cpu_count() or 1)
