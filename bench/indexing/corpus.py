"""The corpus: squad-dev written as PDFs, and the PDFs Debian's erlang-doc package installed, cut to size."""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ERLANG_PACKAGE = "erlang-doc"


def erlang_pdfs() -> list[Path]:
    """The PDFs (plain or gzipped) that dpkg says erlang-doc installed and that are really on disk."""
    try:
        listing = subprocess.run(["dpkg", "-L", ERLANG_PACKAGE], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return []
    if listing.returncode != 0:
        return []
    return sorted(Path(line) for line in listing.stdout.splitlines()
                  if line.endswith((".pdf", ".pdf.gz")) and Path(line).is_file())


def require_erlang_pdfs() -> list[Path]:
    """erlang-doc's PDFs, or SystemExit saying how to install them (the benchmark installs nothing itself)."""
    found = erlang_pdfs()
    if not found:
        raise SystemExit(f"erlang-doc's PDFs are not installed: run `sudo apt-get install {ERLANG_PACKAGE}` "
                         "(Debian/Ubuntu), then this benchmark again (bench/INDEXING.md)")
    return found


def pdf_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


@dataclass
class CorpusFile:
    path: Path
    source: str  # "squad" or "erlang-doc"
    pages: int  # pages in the written file
    source_pages: int  # pages in the original


@dataclass
class Corpus:
    files: list[CorpusFile]
    erlang_files: int
    erlang_files_available: int
    erlang_pages_available: int
    description: str = ""

    @property
    def pages(self) -> int:
        return sum(f.pages for f in self.files)


def build_corpus(folder: Path, erlang: Sequence[Path], files: int, pages: int) -> Corpus:
    """squad-dev as PDFs, plus ``files`` of the erlang PDFs (0: all) cut to ``pages`` pages in all (0: all).

    Files are taken evenly spaced through the sorted list; pages are cut proportionally, every file
    keeping its first pages (at least one), so the mix of manuals and the per-file costs stay realistic.
    Run it in a child process: PyMuPDF and the PDFs' bytes then stay out of the measured process's RSS.
    """
    import pymupdf

    from bench.squad import load_squad, write_article_pdfs

    articles, _ = load_squad()
    corpus_files = []
    for path in write_article_pdfs(articles, folder / "squad"):
        with pymupdf.open(path) as document:
            corpus_files.append(CorpusFile(path, "squad", document.page_count, document.page_count))

    sources: list[tuple[Path, bytes, int]] = []
    for path in erlang:
        data = pdf_bytes(path)
        with pymupdf.open(stream=data, filetype="pdf") as document:
            sources.append((path, data, document.page_count))
    available_pages = sum(n for _, _, n in sources)
    chosen = sources
    if 0 < files < len(sources):
        step = len(sources) / files
        chosen = [sources[int(i * step)] for i in range(files)]
    chosen_pages = sum(n for _, _, n in chosen)
    share = 1.0 if pages <= 0 or pages >= chosen_pages else pages / chosen_pages
    target = folder / "erlang-doc"
    target.mkdir(parents=True, exist_ok=True)
    for path, data, count in chosen:
        name = path.name.removesuffix(".gz")
        out = target / name
        keep = count if share >= 1.0 else max(1, round(count * share))
        if keep >= count:
            out.write_bytes(data)
        else:
            with pymupdf.open(stream=data, filetype="pdf") as source, pymupdf.open() as cut:
                cut.insert_pdf(source, from_page=0, to_page=keep - 1)
                cut.save(out, garbage=3, deflate=True)
        corpus_files.append(CorpusFile(out, "erlang-doc", keep, count))
    kept = sum(f.pages for f in corpus_files if f.source == "erlang-doc")
    squad = [f for f in corpus_files if f.source == "squad"]
    description = (f"squad-dev {len(squad)} PDFs ({sum(f.pages for f in squad)} pages) + erlang-doc "
                   f"{len(chosen)}/{len(sources)} PDFs, {kept}/{available_pages} pages"
                   + ("" if kept == available_pages else " (each file's first pages, cut proportionally)"))
    return Corpus(corpus_files, len(chosen), len(sources), available_pages, description)


def groups_of(files: Sequence[CorpusFile], count: int) -> list[list[CorpusFile]]:
    """``count`` groups of about equal pages (largest file first into the lightest group), each in path order."""
    count = max(1, min(count, len(files)))
    groups: list[list[CorpusFile]] = [[] for _ in range(count)]
    load = [0] * count
    for corpus_file in sorted(files, key=lambda f: (-f.pages, str(f.path))):
        lightest = load.index(min(load))
        groups[lightest].append(corpus_file)
        load[lightest] += corpus_file.pages
    return [sorted(g, key=lambda f: str(f.path)) for g in groups]
