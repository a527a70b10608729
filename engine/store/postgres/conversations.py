"""Conversations in a team library: the same records as ``engine/store/conversations.py``, each one owned.

Every conversation carries its owner (the data home's identity, ``engine/store/postgres/identity.py``), and
every call reads and writes only its owner's: the library is shared, the conversations are not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from engine.records import Citation
from engine.store.conversations import (
    Conversation,
    Message,
    _citations,
    _citations_json,
    _scope,
    conversation_markdown,
    without_sources,
)
from engine.store.postgres.connection import PgConnection, rows, scalar

_COLUMNS = "id, title, collections, created_at, updated_at"


def _conversation(row: tuple[object, ...]) -> Conversation:
    return Conversation(int(str(row[0])), str(row[1]), None if row[2] is None else list(json.loads(str(row[2]))),
                        float(str(row[3])), float(str(row[4])))


class PgConversationStore:
    def __init__(self, conn: PgConnection, owner: str) -> None:
        self.conn = conn
        self.owner = owner

    def create(self, title: str = "New chat", collections: Sequence[str] | None = None) -> Conversation:
        now = time.time()
        conversation_id = int(scalar(
            self.conn, "INSERT INTO conversations(owner, title, collections, created_at, updated_at) "
                       "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (self.owner, title, _scope(collections), now, now)))
        return Conversation(conversation_id, title, None if collections is None else sorted(set(collections)),
                            now, now)

    def all(self) -> list[Conversation]:
        return [_conversation(r) for r in rows(
            self.conn, f"SELECT {_COLUMNS} FROM conversations WHERE owner = %s ORDER BY updated_at DESC, id DESC",
            (self.owner,))]

    def search(self, text: str) -> list[Conversation]:
        """This owner's conversations whose title or messages hold every word of ``text`` (ignoring case),
        most recently updated first; all of them for an empty text."""
        words = text.split()
        if not words:
            return self.all()
        clause = " AND ".join(
            "(c.title ILIKE %s OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id "
            "AND m.content ILIKE %s))" for _ in words)
        patterns = ["%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for w in words]
        args = [self.owner, *(p for pattern in patterns for p in (pattern, pattern))]
        return [_conversation(r) for r in rows(
            self.conn, f"SELECT {_COLUMNS} FROM conversations c WHERE c.owner = %s AND {clause} "
                       "ORDER BY updated_at DESC, id DESC", args)]

    def get(self, conversation_id: int) -> Conversation | None:
        found = rows(self.conn, f"SELECT {_COLUMNS} FROM conversations WHERE id = %s AND owner = %s",
                     (conversation_id, self.owner))
        return _conversation(found[0]) if found else None

    def rename(self, conversation_id: int, title: str) -> None:
        self.conn.execute("UPDATE conversations SET title = %s WHERE id = %s AND owner = %s",
                          (title.strip() or "Untitled", conversation_id, self.owner))

    def set_collections(self, conversation_id: int, collections: Sequence[str] | None) -> None:
        self.conn.execute("UPDATE conversations SET collections = %s WHERE id = %s AND owner = %s",
                          (_scope(collections), conversation_id, self.owner))

    def delete(self, conversation_id: int) -> None:
        self.conn.execute("DELETE FROM conversations WHERE id = %s AND owner = %s", (conversation_id, self.owner))

    def add_message(self, conversation_id: int, role: str, content: str, citations: list[Citation] | None = None,
                    *, stopped: bool = False, notice: str = "", closest: list[Citation] | None = None) -> Message:
        now = time.time()
        with self.conn.transaction():
            if not rows(self.conn, "SELECT 1 FROM conversations WHERE id = %s AND owner = %s FOR UPDATE",
                        (conversation_id, self.owner)):
                raise LookupError(f"no conversation {conversation_id} of this user")
            message_id = int(scalar(
                self.conn, "INSERT INTO messages(conversation_id, role, content, citations, created_at, stopped, "
                           "notice, closest) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (conversation_id, role, content, _citations_json(citations), now, stopped, notice,
                 _citations_json(closest))))
            self.conn.execute("UPDATE conversations SET updated_at = %s WHERE id = %s", (now, conversation_id))
        return Message(message_id, role, content, list(citations or []), now, stopped=stopped, notice=notice,
                       closest=list(closest or []))

    def messages(self, conversation_id: int) -> list[Message]:
        return [Message(int(r[0]), str(r[1]), str(r[2]), _citations(r[3]), float(r[4]), bool(r[5]), bool(r[6]),
                        str(r[7]), _citations(r[8]))
                for r in rows(self.conn, "SELECT m.id, m.role, m.content, m.citations, m.created_at, "
                                         "m.sources_forgotten, m.stopped, m.notice, m.closest FROM messages m "
                                         "JOIN conversations c ON c.id = m.conversation_id "
                                         "WHERE m.conversation_id = %s AND c.owner = %s ORDER BY m.id",
                              (conversation_id, self.owner))]

    def forget_sources(self, document_ids: AbstractSet[int], paths: AbstractSet[str]) -> None:
        """Drop every citation of these documents from every user's stored answers (inside the caller's
        transaction): forgetting a document leaves no trace of it in anyone's conversations."""
        for message_id, cited, closest in rows(self.conn, "SELECT id, citations, closest FROM messages "
                                                          "WHERE citations != '[]' OR closest != '[]' FOR UPDATE"):
            kept_cited, cited_dropped = without_sources(cited, document_ids, paths)
            kept_closest, closest_dropped = without_sources(closest, document_ids, paths)
            if cited_dropped or closest_dropped:
                self.conn.execute("UPDATE messages SET citations = %s, closest = %s, "
                                  "sources_forgotten = sources_forgotten OR %s WHERE id = %s",
                                  (kept_cited, kept_closest, cited_dropped, message_id))

    def delete_last_answer(self, conversation_id: int) -> None:
        self.conn.execute(
            "DELETE FROM messages WHERE id = (SELECT max(m.id) FROM messages m JOIN conversations c "
            "ON c.id = m.conversation_id WHERE m.conversation_id = %s AND c.owner = %s AND m.role = 'assistant')",
            (conversation_id, self.owner))

    def count(self) -> int:
        return int(scalar(self.conn, "SELECT count(*) FROM conversations WHERE owner = %s", (self.owner,)))

    def export_markdown(self, conversation_id: int) -> str:
        return conversation_markdown(self.get(conversation_id), self.messages(conversation_id))
