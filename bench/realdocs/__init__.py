"""Questions written over real PDF manuals from Debian documentation packages (see README.md here).

``questions.json`` holds answerable questions (a gold page, short verbatim answers or key points) and
unanswerable ones (``page`` null). Two of the documents ship gzip-compressed (``.pdf.gz``): they are read
through :func:`document_bytes`, and the benchmark indexes an uncompressed copy (:func:`materialise`).
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

QUESTIONS = Path(__file__).resolve().with_name("questions.json")
SHORT_KINDS = frozenset({"fact", "definition", "number", "option", "command", "name"})
LONG_KINDS = frozenset({"list", "procedure", "summary"})  # scored by the share of key points in the answer
KINDS = SHORT_KINDS | LONG_KINDS


@dataclass(frozen=True)
class RealQuestion:
    id: str
    document: str  # the installed path, as packaged (may end in .pdf.gz)
    package: str
    page: int | None  # 1-based; None for unanswerable questions
    question: str
    answers: list[str]
    kind: str
    key_points: list[str]
    answerable: bool
    also_pages: list[int] = field(default_factory=list)  # other pages that state the same answer
    absent: list[str] = field(default_factory=list)  # unanswerable: phrases no document may contain

    @property
    def scored_by_key_points(self) -> bool:
        return self.answerable and bool(self.key_points)

    @property
    def gold_pages(self) -> set[int]:
        """The pages a citation may point to and count as the gold page."""
        return ({self.page} if self.page is not None else set()) | set(self.also_pages)


def load_questions(path: Path = QUESTIONS) -> list[RealQuestion]:
    raw = json.loads(path.read_text("utf-8"))
    return [RealQuestion(id=e["id"], document=e["document"], package=e["package"], page=e["page"],
                         question=e["question"], answers=list(e["answers"]), kind=e["kind"],
                         key_points=list(e.get("key_points", [])), answerable=bool(e["answerable"]),
                         also_pages=list(e.get("also_pages", [])), absent=list(e.get("absent", []))) for e in raw]


def documents(questions: list[RealQuestion]) -> dict[str, str]:
    """Each document path once, in order of first use, with the Debian package that installs it."""
    found: dict[str, str] = {}
    for question in questions:
        found.setdefault(question.document, question.package)
    return found


def missing_documents(questions: list[RealQuestion]) -> dict[str, str]:
    return {path: package for path, package in documents(questions).items() if not Path(path).is_file()}


def install_hint(missing: dict[str, str]) -> str:
    packages = " ".join(sorted(set(missing.values())))
    lines = [f"  {path} (package {package})" for path, package in missing.items()]
    return ("realdocs: these documents are not installed:\n" + "\n".join(lines) +
            f"\ninstall them with:\n  sudo apt-get install -y --no-install-recommends {packages}")


def indexed_name(document: str) -> str:
    """The file name the app sees: a ``.pdf.gz`` is indexed as the ``.pdf`` inside it."""
    name = Path(document).name
    return name[:-3] if name.endswith(".gz") else name


def document_bytes(document: str) -> bytes:
    data = Path(document).read_bytes()
    return gzip.decompress(data) if document.endswith(".gz") else data


def materialise(document: str, folder: Path) -> Path:
    """The path to index: the installed PDF itself, or an uncompressed copy of a ``.pdf.gz`` in ``folder``."""
    if not document.endswith(".gz"):
        return Path(document)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / indexed_name(document)
    with gzip.open(document, "rb") as source, target.open("wb") as sink:
        shutil.copyfileobj(source, sink)
    return target
