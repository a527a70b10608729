"""Conversations and their messages, kept in the app's database (they survive a restart)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import apsw

from engine.records import Citation
from engine.store.db import rows, scalar


@dataclass
class Message:
    id: int
    role: str  # "user" or "assistant"
    content: str
    citations: list[Citation] = field(default_factory=list)
    created_at: float = 0.0
    sources_forgotten: bool = False  # some cited documents were forgotten: their citations are gone
    stopped: bool = False  # the person stopped the answer: a fragment, never a checked answer
    notice: str = ""  # what a decline showed in place of its text (what was searched, where the nearest passages are)
    closest: list[Citation] = field(default_factory=list)  # the passages a decline offered instead of sources


@dataclass
class Conversation:
    id: int
    title: str
    collections: list[str] | None  # the collections its questions search; None: all of them
    created_at: float
    updated_at: float


def _scope(collections: Sequence[str] | None) -> str | None:
    return None if collections is None else json.dumps(sorted(set(collections)))


class ConversationStore:
    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn

    def create(self, title: str = "New chat", collections: Sequence[str] | None = None) -> Conversation:
        now = time.time()
        with self.conn:
            self.conn.execute(
                "INSERT INTO conversations(title, collections, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (title, _scope(collections), now, now))
            conversation_id = self.conn.last_insert_rowid()
        return Conversation(conversation_id, title, None if collections is None else sorted(set(collections)),
                            now, now)

    def all(self) -> list[Conversation]:
        return [Conversation(int(r[0]), str(r[1]), None if r[2] is None else list(json.loads(r[2])), float(r[3]),
                             float(r[4])) for r in rows(
            self.conn, "SELECT id, title, collections, created_at, updated_at FROM conversations "
                       "ORDER BY updated_at DESC, id DESC")]

    def search(self, text: str) -> list[Conversation]:
        """The conversations whose title or messages hold every word of ``text`` (ignoring case, as SQLite's LIKE
        does for ASCII letters), most recently updated first; every conversation for an empty text."""
        words = text.split()
        if not words:
            return self.all()
        clause = " AND ".join(  # word n is parameter ?n, looked for in the title and in every message
            f"(c.title LIKE ?{n} ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m "
            f"WHERE m.conversation_id = c.id AND m.content LIKE ?{n} ESCAPE '\\'))" for n in range(1, len(words) + 1))
        patterns = ["%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                    for word in words]
        matching = {int(r[0]) for r in rows(self.conn, f"SELECT c.id FROM conversations c WHERE {clause}", patterns)}
        return [c for c in self.all() if c.id in matching]

    def get(self, conversation_id: int) -> Conversation | None:
        found = [c for c in self.all() if c.id == conversation_id]
        return found[0] if found else None

    def rename(self, conversation_id: int, title: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title.strip() or "Untitled",
                                                                                  conversation_id))

    def set_collections(self, conversation_id: int, collections: Sequence[str] | None) -> None:
        """Which collections the conversation's questions search from now on (None: all)."""
        with self.conn:
            self.conn.execute("UPDATE conversations SET collections = ? WHERE id = ?",
                              (_scope(collections), conversation_id))

    def delete(self, conversation_id: int) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def add_message(self, conversation_id: int, role: str, content: str, citations: list[Citation] | None = None,
                    *, stopped: bool = False, notice: str = "", closest: list[Citation] | None = None) -> Message:
        now = time.time()
        with self.conn:
            self.conn.execute(
                "INSERT INTO messages(conversation_id, role, content, citations, created_at, stopped, notice, closest) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, _citations_json(citations), now, int(stopped), notice,
                 _citations_json(closest)))
            message_id = self.conn.last_insert_rowid()
            self.conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        return Message(message_id, role, content, list(citations or []), now, stopped=stopped, notice=notice,
                       closest=list(closest or []))

    def messages(self, conversation_id: int) -> list[Message]:
        return [Message(int(r[0]), str(r[1]), str(r[2]), _citations(r[3]), float(r[4]), bool(r[5]), bool(r[6]),
                        str(r[7]), _citations(r[8]))
                for r in rows(self.conn, "SELECT id, role, content, citations, created_at, sources_forgotten, stopped, "
                                         "notice, closest FROM messages WHERE conversation_id = ? ORDER BY id",
                              (conversation_id,))]

    def forget_sources(self, document_ids: AbstractSet[int], paths: AbstractSet[str]) -> None:
        """Drop every citation of these documents (their passages and paths) from the stored answers, inside
        the caller's transaction. The answer text is the person's own and stays, marked ``sources_forgotten``.
        A decline's closest passages of these documents go too."""
        for message_id, cited, closest in rows(self.conn, "SELECT id, citations, closest FROM messages "
                                                          "WHERE citations != '[]' OR closest != '[]'"):
            kept_cited, cited_dropped = without_sources(cited, document_ids, paths)
            kept_closest, closest_dropped = without_sources(closest, document_ids, paths)
            if cited_dropped or closest_dropped:
                self.conn.execute("UPDATE messages SET citations = ?, closest = ?, "
                                  "sources_forgotten = sources_forgotten OR ? WHERE id = ?",
                                  (kept_cited, kept_closest, int(cited_dropped), message_id))

    def delete_last_answer(self, conversation_id: int) -> None:
        """Drop the last assistant message (for "retry")."""
        with self.conn:
            self.conn.execute(
                "DELETE FROM messages WHERE id = (SELECT max(id) FROM messages WHERE conversation_id = ? "
                "AND role = 'assistant')", (conversation_id,))

    def count(self) -> int:
        return int(scalar(self.conn, "SELECT count(*) FROM conversations"))

    def export_markdown(self, conversation_id: int) -> str:
        """The conversation as Markdown, each answer followed by its sources."""
        return conversation_markdown(self.get(conversation_id), self.messages(conversation_id))


def conversation_markdown(conversation: Conversation | None, messages: Sequence[Message]) -> str:
    """A conversation as Markdown, each answer followed by its sources."""
    title = conversation.title if conversation else "Conversation"
    lines = [f"# {title}", ""]
    for message in messages:
        speaker = "You" if message.role == "user" else "Hushdocs"
        lines += [f"**{speaker}:**", "", message.content.strip(), ""]
        if message.citations:
            lines.append("Sources:")
            for citation in message.citations:
                where = f", page {citation.page}" if citation.page else ""
                lines.append(f"- [{citation.n}] {citation.path}{where}")
            lines.append("")
        if message.sources_forgotten:
            lines += ["(Sources forgotten: some documents this answer cited were removed from Hushdocs.)", ""]
    return "\n".join(lines).rstrip() + "\n"


def without_sources(payload: str, document_ids: AbstractSet[int], paths: AbstractSet[str]) -> tuple[str, bool]:
    """A message's JSON citations less those of these documents, and whether any was dropped."""
    citations = json.loads(payload)
    kept = [c for c in citations if c.get("document_id") not in document_ids and c.get("path") not in paths]
    return json.dumps(kept), len(kept) < len(citations)


def _citations_json(citations: list[Citation] | None) -> str:
    return json.dumps([c.to_record() for c in citations or []])


def _citations(payload: str) -> list[Citation]:
    return [Citation.from_record(c) for c in json.loads(payload)]
