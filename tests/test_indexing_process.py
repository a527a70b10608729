"""Indexing as a process: killed with SIGKILL mid-document, resumed; the watcher; the CLI contract."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.api import Engine, FileOutcome
from engine.settings import Settings
from engine.store.db import connect
from engine.store.index_store import IndexStore
from tests.support.documents import write_pdf
from tests.test_indexing import assert_consistent

ROOT = Path(__file__).resolve().parents[1]


def _corpus(folder: Path, files: int, pages: int) -> None:
    folder.mkdir(parents=True)
    for f in range(files):
        write_pdf(folder / f"report {f:02d}.pdf",
                  [f"Report {f}, page {p}. " + f"Observation {f}-{p} concerns tidal measurements. " * 40
                   for p in range(pages)])


def _indexed_paths(database: Path) -> list[str]:
    conn = connect(database)
    try:
        store = IndexStore(conn)
        assert_consistent(store)
        documents = store.documents()
        assert {d.status for d in documents} <= {"indexed"}  # a killed file is absent, never half there
        return [d.path for d in documents]
    finally:
        conn.close()


def test_sigkill_mid_document_then_resume(tmp_path: Path, hushdocs_home: Path) -> None:
    """kill -9 at three points of a real run, each while a document is being read or embedded: what was
    written stays whole, nothing is orphaned or doubled, and the next run indexes each remaining file once."""
    folder = tmp_path / "corpus"
    _corpus(folder, files=8, pages=12)
    database = hushdocs_home / "data" / "hushdocs.sqlite3"
    command = [sys.executable, str(ROOT / "main.py"), "index", str(folder)]
    # As on a user's machine: a pipe is block-buffered unless the CLI flushes (the suite may run unbuffered).
    buffered = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    indexed: list[str] = []
    for more_files, delay_s in ((1, 0.0), (1, 0.4), (2, 0.8)):  # after k more files, then into the next one
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   env=buffered)
        assert process.stdout is not None
        seen = 0
        for line in process.stdout:  # each outcome line is flushed as its file is written
            seen += line.strip().startswith("indexed")
            if seen == more_files:
                break
        time.sleep(delay_s)
        assert process.poll() is None, "the run ended before the kill: it would not prove anything"
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
        process.stdout.close()
        now = _indexed_paths(database)
        assert set(indexed) <= set(now) and len(now) >= len(indexed) + more_files and len(now) < 8
        indexed = now
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert report["phase"] == "finished"
    assert report["summary"]["indexed"] == 8 - len(indexed)  # only what the kills left undone
    assert report["summary"]["unchanged"] == len(indexed)
    final = _indexed_paths(database)
    assert sorted(final) == sorted(str(p) for p in folder.iterdir())  # each file once


def test_watcher_follows_new_changed_and_deleted_files(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "first.md").write_text("# First\n\nThe first note.")
    engine = Engine(Settings(), embedder=embedder)
    try:
        list(engine.index([folder], "Watched"))
        followed: queue.Queue[FileOutcome] = queue.Queue()
        engine.start_watching(lambda event: followed.put(event.outcome) if event.outcome else None)

        def wait_for(name: str, action: str) -> None:
            """Until the watcher's sync reports ``action`` for the file (no polling: its own events)."""
            deadline = time.monotonic() + 20
            while True:
                try:
                    outcome = followed.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise AssertionError(f"the index did not follow: {name} {action}") from None
                if outcome.path.endswith(name) and outcome.action == action:
                    return

        (folder / "second.md").write_text("# Second\n\nPelicans nest on the pier.")
        wait_for("second.md", "indexed")
        assert any(d.path.endswith("second.md") for d in engine.documents())
        (folder / "second.md").write_text("# Second\n\nCormorants now nest on the pier.")
        wait_for("second.md", "indexed")
        assert engine.search("cormorants", k=1, mode="keyword")
        (folder / "first.md").unlink()
        wait_for("first.md", "removed")
        assert not any(d.path.endswith("first.md") for d in engine.documents())
    finally:
        engine.close()


def test_cli_index_docs_forget_json_contract(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "a.pdf", ["Alpha page one.", "Alpha page two."])
    (folder / "broken.pdf").write_bytes(b"not a pdf at all")

    def main(*args: str) -> object:
        result = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                                check=True)
        return json.loads(result.stdout)

    report = main("index", str(folder), "--collection", "Letters", "--json")
    assert isinstance(report, dict)
    assert set(report) == {"phase", "summary", "files", "elapsed_s", "pages", "chunks"}
    files = {Path(f["path"]).name: f for f in report["files"]}
    assert files["a.pdf"]["status"] == "indexed" and files["a.pdf"]["pages"] == 2
    assert files["broken.pdf"]["action"] == "failed" and files["broken.pdf"]["reason"]
    docs = main("docs", "--json")
    assert isinstance(docs, list)
    assert {d["status"] for d in docs} == {"indexed", "failed"}
    assert set(docs[0]) == {"id", "collection", "path", "kind", "title", "status", "error", "pages", "chunks",
                            "size", "indexed_at"}
    assert main("collections", "--json") == [{"name": "Letters", "documents": 2, "roots": [str(folder)]}]
    assert main("forget", str(folder), "--json") == {"removed": 2}
    assert main("docs", "--json") == []


def test_cli_indexes_and_lists_a_file_whose_name_is_not_utf8(tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    odd = os.fsencode(folder) + b"/bad\xff.txt"
    with open(odd, "w", encoding="utf-8") as handle:
        handle.write("The badly named note is about grey herons.")
    (folder / "good.md").write_text("# Good\n\nA note about barn owls.", "utf-8")

    def main(*args: str) -> str:
        result = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, check=False)
        assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
        return result.stdout.decode("utf-8")  # valid UTF-8 whatever the names

    assert "2 indexed" in main("index", str(folder))
    assert "bad\\xff.txt" in main("docs")  # printed readably, not a crash
    listed = {os.fsencode(d["path"]): d["status"] for d in json.loads(main("docs", "--json"))}
    assert listed == {odd: "indexed", os.fsencode(folder / "good.md"): "indexed"}  # JSON gives the exact name back
    assert "unchanged" in main("sync") or "nothing to do" in main("sync")


def test_a_full_disk_is_a_plain_message_and_sync_goes_on_after(tmp_path: Path) -> None:
    """The data home on a 640 KB file system (a tmpfs in a user and mount namespace): indexing stops with one
    plain line, the index stays whole, and once there is room `sync` indexes the rest."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for n in range(24):
        facts = " ".join(f"Fact {n}-{k} says the tide gauge {k * n} read {k + n} cm." for k in range(100))
        (folder / f"note{n:02d}.md").write_text(f"# Note {n}\n\n{facts}")
    home, out = tmp_path / "small-home", tmp_path / "out"
    home.mkdir()
    out.mkdir()
    main = f"{sys.executable} {ROOT / 'main.py'}"
    script = (f"mount -t tmpfs -o size=640k none {home} || exit 99; "
              f"{main} index {folder} > {out}/index.out 2> {out}/index.err; echo $? > {out}/index.rc; "
              f"mount -o remount,size=64m {home}; "
              f"{main} sync --json > {out}/sync.out 2> {out}/sync.err; echo $? > {out}/sync.rc; "
              f"{main} docs --json > {out}/docs.out")
    env = dict(os.environ, HUSHDOCS_HOME=str(home))
    subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, check=True, timeout=600)
    read = {name: (out / name).read_text("utf-8") for name in ("index.rc", "index.err", "sync.rc", "sync.out")}
    assert read["index.rc"].strip() == "1", read
    assert "Traceback" not in read["index.err"] and read["index.err"].count("\n") == 1, read["index.err"]
    assert "the disk is full" in read["index.err"] and "nothing was lost" in read["index.err"].lower()
    assert read["sync.rc"].strip() == "0", read
    assert json.loads(read["sync.out"])["summary"]["indexed"] > 0
    documents = json.loads((out / "docs.out").read_text("utf-8"))
    assert len(documents) == 24 and {d["status"] for d in documents} == {"indexed"}


def test_an_overlong_question_and_an_unknown_collection_are_plain_messages(tmp_path: Path,
                                                                           tiny_model_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "note.md").write_text("# Ferry\n\nThe ferry leaves at seven.", "utf-8")

    def main(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                              check=False, timeout=300)

    assert main("index", str(folder), "--collection", "Travel").returncode == 0
    cases = {
        "ask": ("ask", "When does the ferry leave? " * 3000, "--model", str(tiny_model_path)),
        "ask in a collection": ("ask", "When?", "--collection", "NoSuchCollection", "--model", str(tiny_model_path)),
        "search": ("search", "ferry", "--collection", "NoSuchCollection"),
        "docs": ("docs", "--collection", "NoSuchCollection"),
        "sync": ("sync", "--collection", "NoSuchCollection"),
    }
    for name, args in cases.items():
        result = main(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (name, result.stderr[-2000:])
        assert result.stderr.count("\n") == 1, (name, result.stderr)
        if name == "ask":
            assert "question is too long" in result.stderr and "4,000" in result.stderr
        else:
            assert "no collection named 'NoSuchCollection'; collections: Travel" in result.stderr, (name, result.stderr)
