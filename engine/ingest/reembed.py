"""Re-embedding the library with another model, from the chunks' stored text: no file is read or parsed again.

``reembed`` yields its progress after each batch; stopped (``cancel``) or killed, it goes on where it was at the
next call with the same model (``engine/store/model_switch.py`` keeps the new vectors apart until all are done,
then swaps them in at once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import apsw

from engine.embedding.choice import MINILM_NAME
from engine.embedding.embedder import Embedder
from engine.store import model_switch
from engine.store.db import get_meta

REEMBED_BATCH = 32


@dataclass(frozen=True)
class SwitchState:
    """Which model the index searches with, and how far a switch to another one has gone (stopped or running)."""

    current: str  # an index that embedded nothing yet: the default model, the one it will be built with
    target: str | None  # the model a switch under way embeds with
    done: int  # chunks with a vector of ``target``
    total: int  # chunks in the index

    def chunks_to_embed(self, name: str) -> int:
        """How many chunks switching to model ``name`` still has to embed."""
        if name == self.target:
            return self.total - self.done
        return 0 if name == self.current else self.total


def switch_state(conn: apsw.Connection) -> SwitchState:
    target = model_switch.switching_to(conn)
    done, total = model_switch.progress(conn) if target else (0, model_switch.chunk_total(conn))
    return SwitchState(get_meta(conn, "embedder") or MINILM_NAME, target, done, total)


@dataclass(frozen=True)
class ReembedProgress:
    done: int  # chunks with a vector of the new model
    total: int
    finished: bool  # the new model is the index's model now


def reembed(conn: apsw.Connection, embedder: Embedder, cancel: threading.Event | None = None,
            batch: int = REEMBED_BATCH) -> Iterator[ReembedProgress]:
    """Give every chunk a vector of ``embedder`` and make it the index's model; progress after each batch."""
    if get_meta(conn, "embedder") == embedder.name:
        model_switch.abandon(conn)  # back to the model in use: a stopped switch to another one is dropped
        total = model_switch.chunk_total(conn)
        yield ReembedProgress(total, total, True)
        return
    model_switch.begin(conn, embedder.name, embedder.dim)
    while True:
        todo = model_switch.pending(conn, batch)
        if not todo:
            if model_switch.finish(conn):
                total = model_switch.chunk_total(conn)
                yield ReembedProgress(total, total, True)
                return
            continue  # chunks were added meanwhile
        if cancel is not None and cancel.is_set():
            return
        model_switch.stage(conn, [chunk_id for chunk_id, _ in todo], embedder.embed([text for _, text in todo]))
        done, total = model_switch.progress(conn)
        yield ReembedProgress(done, total, False)
