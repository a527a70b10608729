"""A team library: two app instances with their own data homes share one PostgreSQL library (a real server).

A file indexed by one is found and answered from by the other; a forget on one is gone for both; each one's
conversations stay its own; the network seal lets a process reach the library's server and nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engine import paths
from engine.api import Engine, HushdocsError, Settings
from engine.embedding.embedder import Embedder
from tests.support.documents import write_pdf
from tests.support.postgres_server import PostgresServer
from tests.test_answers import HARBOUR

ROOT = Path(__file__).resolve().parents[1]


def _engine_in(home: Path, url: str, embedder: Embedder, monkeypatch: pytest.MonkeyPatch,
               settings: Settings | None = None) -> Engine:
    """An engine as the app in data home ``home`` makes it (its settings, its identity), on the team library."""
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    monkeypatch.setenv("HUSHDOCS_DATABASE_URL", url)
    return Engine(settings or Settings(), embedder=embedder)


@pytest.fixture
def two_homes(tmp_path: Path, postgres_url: str, embedder: Embedder, default_model_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, Engine]]:
    answers = Settings(chat_model=str(default_model_path), context_size=4096, temperature=0.0)
    alice = _engine_in(tmp_path / "alice", postgres_url, embedder, monkeypatch, answers)
    bob = _engine_in(tmp_path / "bob", postgres_url, embedder, monkeypatch, answers)
    yield alice, bob
    alice.close()
    bob.close()


def test_what_one_indexes_the_other_finds_answers_from_and_forgets(tmp_path: Path,
                                                                    two_homes: tuple[Engine, Engine]) -> None:
    alice, bob = two_homes
    assert alice.library.is_shared and bob.library.is_shared
    folder = tmp_path / "shared-docs"
    folder.mkdir()
    write_pdf(folder / "harbour.pdf", HARBOUR)
    (folder / "vault.md").write_text("# Vault\n\nThe code of the vault is 4417. Only the night guard knows it.\n")
    list(alice.index([folder], "Harbour"))

    assert [c.name for c in bob.collections()] == ["Harbour"]
    assert {Path(d.path).name for d in bob.documents()} == {"harbour.pdf", "vault.md"}
    [hit] = bob.search("name of the lighthouse keeper", k=1)
    assert hit.path.endswith("harbour.pdf") and hit.page == 2 and "Marguerite" in hit.text
    done = [e for e in bob.ask("Who is the lighthouse keeper of Porto Velho?") if e.kind == "done"]
    assert done and done[0].answer is not None
    answer = done[0].answer
    assert "Marguerite" in answer.text and answer.grounded
    assert answer.citations[0].path.endswith("harbour.pdf") and answer.citations[0].page == 2

    bob_folder = tmp_path / "bobs-docs"
    bob_folder.mkdir()
    (bob_folder / "ferry.md").write_text("# Ferry\n\nThe ferry to the island leaves at seven.\n", "utf-8")
    list(bob.index([bob_folder], "Harbour"))
    folder.rename(tmp_path / "alice-unmounted")  # Alice's folder is not on Bob's computer (here: not any more)
    list(bob.sync())  # a re-scan of every folder, as the app does at start: another computer's folder stays
    assert {Path(d.path).name for d in alice.documents()} == {"harbour.pdf", "vault.md", "ferry.md"}
    (tmp_path / "alice-unmounted").rename(folder)

    assert bob.forget([folder / "vault.md"]) == 1
    assert alice.search("code of the vault", k=3, mode="keyword") == []
    assert {Path(d.path).name for d in alice.documents()} == {"harbour.pdf", "ferry.md"}
    assert [e.path for e in alice.exclusions()] == [str(folder / "vault.md")]  # left out of the folder's scans
    list(alice.sync())
    assert {Path(d.path).name for d in bob.documents()} == {"harbour.pdf", "ferry.md"}


def test_each_home_keeps_its_own_conversations(two_homes: tuple[Engine, Engine]) -> None:
    alice, bob = two_homes
    mine = alice.conversations().create("Alice's questions")
    alice.conversations().add_message(mine.id, "user", "Where is the ferry?")
    theirs = bob.conversations().create("Bob's questions")
    assert [c.title for c in alice.conversations().all()] == ["Alice's questions"]
    assert [c.title for c in bob.conversations().all()] == ["Bob's questions"]
    assert bob.conversations().messages(mine.id) == [] and bob.conversations().get(mine.id) is None
    bob.conversations().delete(mine.id)  # not Bob's: nothing happens to it
    assert alice.conversations().count() == 1 and bob.conversations().search("ferry") == []
    with pytest.raises(LookupError):
        bob.conversations().add_message(mine.id, "user", "Written into someone else's conversation?")
    assert [m.content for m in alice.conversations().messages(mine.id)] == ["Where is the ferry?"]
    assert theirs.id != mine.id


def test_an_unreachable_library_is_named_with_the_reason(tmp_path: Path, embedder: Embedder) -> None:
    url = f"postgresql://hushdocs:secret-pw@/library?host={tmp_path}/nothing-here"
    with Engine(Settings(database_url=url), embedder=embedder) as engine, \
            pytest.raises(HushdocsError, match="cannot be reached") as raised:
        engine.collections()
    assert "secret-pw" not in str(raised.value)  # the password is never shown


def test_the_seal_lets_a_process_reach_its_library_server_and_no_other(tmp_path: Path) -> None:
    """In a sealed process (as main.py seals it), a library at db.lan:5433 is the one place allowed; any other
    host is refused before a lookup or a connection leaves the process."""
    script = (
        "import socket\n"
        "from engine import offline\n"
        "offline.seal_network()\n"
        "from engine.api import Engine, Settings\n"
        "engine = Engine(Settings(database_url='postgresql://team@db.lan:5433/library'))\n"
        "print(sorted(offline._allowed.values()))\n"
        "for attempt in (lambda: socket.getaddrinfo('elsewhere.example', 5433),\n"
        "                lambda: socket.create_connection(('192.0.2.7', 5433), timeout=1)):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('reached')\n"
        "    except offline.NetworkSealedError:\n"
        "        print('refused')\n"
        "engine.close()\n"
        "print(sorted(offline._allowed.values()))\n")
    environment = {**os.environ, paths.HOME_ENV: str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False, env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["[('db.lan', 5433)]", "refused", "refused", "[]"]


def test_a_member_role_needs_the_admin_to_create_pgvector_once(postgres_server: PostgresServer,
                                                              embedder: Embedder) -> None:
    """The README's set-up: the app connects as a plain role owning its database; pgvector, not a trusted
    extension, is created once by a superuser; the app's own migrations then run as that role."""
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute("CREATE ROLE member LOGIN")
        admin.execute("CREATE DATABASE team OWNER member")
    url = postgres_server.url("team").replace("postgres@", "member@")
    try:
        with Engine(Settings(), database_url=url, embedder=embedder) as engine, \
                pytest.raises(HushdocsError, match=r"has no pgvector.*CREATE EXTENSION vector"):
            engine.collections()
        with psycopg.connect(postgres_server.url("team"), autocommit=True) as admin:
            admin.execute("CREATE EXTENSION vector")
        with Engine(Settings(), database_url=url, embedder=embedder) as engine:
            assert engine.collections() == []
            engine.create_collection("Team")
            assert [c.name for c in engine.collections()] == ["Team"]
    finally:
        postgres_server.drop_database(url)
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute("DROP ROLE member")


def test_a_team_library_keeps_its_embedding_model(tmp_path: Path, postgres_url: str, embedder: Embedder) -> None:
    """The window asks for the search model's state at start: a team library answers it (no switch under way);
    switching is refused with the reason, and the library is left as it was."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ferry.md").write_text("# Ferry\n\nThe ferry leaves at seven.\n", "utf-8")
    with Engine(Settings(), database_url=postgres_url, embedder=embedder) as engine:
        list(engine.index([folder]))
        state = engine.embedding_state()
        assert (state.current, state.target, state.total) == (embedder.name, None, 1)
        with pytest.raises(HushdocsError, match="not done in a team library"):
            list(engine.switch_embedder("e5-small"))
        assert engine.search("ferry", k=1, mode="keyword")[0].path.endswith("ferry.md")


def test_the_window_says_what_the_team_library_keeps_and_where(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql://team@db.lan:5433/library", answers_from="server",
                        server_url="http://gpu.lan:8080")
    with Engine(settings) as engine:
        assert engine.privacy_note() == (
            "Documents' text and vectors, and your conversations, are kept in the team library db.lan:5433; "
            "questions and the passages they are answered from go to the answer server gpu.lan:8080; "
            "nothing else leaves this computer.")
    with Engine(Settings(database_url=f"postgresql://team@/library?host={tmp_path}")) as engine:
        assert engine.privacy_note().endswith(f"team library on this computer ({tmp_path}); nothing else leaves "
                                              "this computer.")
