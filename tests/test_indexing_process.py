"""Indexing as a process: killed with SIGKILL mid-document, resumed; the watcher; the CLI contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.api import Engine
from engine.settings import Settings
from engine.store.db import connect, rows
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


def test_sigkill_mid_document_then_resume(tmp_path: Path, hushdocs_home: Path) -> None:
    folder = tmp_path / "corpus"
    _corpus(folder, files=8, pages=12)
    command = [sys.executable, str(ROOT / "main.py"), "index", str(folder)]
    for kill_after in (1, 3):  # two kills at different points, each while the next document is in flight
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   env=dict(os.environ))
        assert process.stdout is not None
        seen = 0
        for line in process.stdout:
            if line.strip().startswith("indexed"):
                seen += 1
                if seen == kill_after:
                    break
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        store = IndexStore(connect(hushdocs_home / "data" / "hushdocs.sqlite3"))
        assert_consistent(store)
        assert {d.status for d in store.documents()} <= {"indexed"}
        store.conn.close()
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert report["phase"] == "finished"
    store = IndexStore(connect(hushdocs_home / "data" / "hushdocs.sqlite3"))
    documents = store.documents()
    assert len(documents) == 8 and all(d.status == "indexed" for d in documents)
    assert len({d.path for d in documents}) == 8
    assert report["summary"]["indexed"] <= 8 - 4  # the four reported before the kills were kept
    per_document = rows(store.conn, "SELECT document_id, count(*), count(DISTINCT ordinal) FROM chunks "
                                    "GROUP BY document_id")
    assert all(total == distinct for _, total, distinct in per_document)  # no duplicated chunks
    assert_consistent(store)


def test_watcher_follows_new_changed_and_deleted_files(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "first.md").write_text("# First\n\nThe first note.")
    engine = Engine(Settings(), embedder=embedder)
    try:
        list(engine.index([folder], "Watched"))
        engine.start_watching()

        def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
            deadline = time.monotonic() + 20
            while not condition():
                assert time.monotonic() < deadline, f"the index did not follow: {what}"
                time.sleep(0.1)

        (folder / "second.md").write_text("# Second\n\nPelicans nest on the pier.")
        wait_for(lambda: any(d.path.endswith("second.md") for d in engine.documents()), "a new file")
        (folder / "second.md").write_text("# Second\n\nCormorants now nest on the pier.")
        wait_for(lambda: engine.search("cormorants", k=1, mode="keyword"), "a changed file")
        (folder / "first.md").unlink()
        wait_for(lambda: not any(d.path.endswith("first.md") for d in engine.documents()), "a deleted file")
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
