"""The squad-dev articles as documents, and SQuAD's answer normalisation (shared by the benchmarks)."""

from __future__ import annotations

import html
import json
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-dev" / "squad2-dev-2-articles.json"
PARAGRAPHS_PER_PAGE = 3


@dataclass
class Question:
    id: str
    article: str
    text: str
    answers: list[str]
    answer_starts: list[int]
    context: str
    impossible: bool


def load_squad(path: Path = SQUAD) -> tuple[dict[str, list[str]], list[Question]]:
    data = json.loads(path.read_text("utf-8"))
    articles: dict[str, list[str]] = {}
    questions: list[Question] = []
    for article in data["data"]:
        articles[article["title"]] = [p["context"] for p in article["paragraphs"]]
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = qa["answers"]
                questions.append(Question(qa["id"], article["title"], qa["question"], [a["text"] for a in answers],
                                          [a["answer_start"] for a in answers], paragraph["context"],
                                          bool(qa.get("is_impossible"))))
    return articles, questions


def write_article_pdfs(articles: dict[str, list[str]], folder: Path) -> list[Path]:
    """Each article as one PDF, several paragraphs a page (real pages for page-exact citations)."""
    import pymupdf

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for title, paragraphs in articles.items():
        document = pymupdf.open()
        for start in range(0, len(paragraphs), PARAGRAPHS_PER_PAGE):
            page = document.new_page()
            body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[start : start + PARAGRAPHS_PER_PAGE])
            page.insert_htmlbox(pymupdf.Rect(50, 50, 545, 800), body, scale_low=0)
        path = folder / f"{title}.pdf"
        document.set_metadata({"title": title.replace("_", " ")})
        document.save(path)
        document.close()
        written.append(path)
    return written


def squad_normalise(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def reply_is_right(reply: str, question: Question) -> bool:
    """SQuAD's containment check: a gold answer text appears in the reply, both normalised."""
    normalised = squad_normalise(reply)
    return any(squad_normalise(answer) in normalised for answer in question.answers)


def sample_questions(questions: list[Question], sample: int | None,
                     seed: int) -> tuple[list[Question], list[Question]]:
    """Answerable and unanswerable questions, ``sample`` of each (all when None), the same for a seed."""
    rng = random.Random(seed)
    answerable = [q for q in questions if not q.impossible]
    unanswerable = [q for q in questions if q.impossible]
    if sample is not None:
        answerable = rng.sample(answerable, min(sample, len(answerable)))
        unanswerable = rng.sample(unanswerable, min(sample, len(unanswerable)))
    return answerable, unanswerable


def squash(text: str) -> str:
    return " ".join(text.split())


def chunk_holds_answer(chunk_text: str, question: Question) -> bool:
    """The chunk contains the gold answer span in its own paragraph's words (a little context around it)."""
    chunk = squash(chunk_text)
    for answer, start in zip(question.answers, question.answer_starts, strict=True):
        window = squash(question.context[max(0, start - 12) : start + len(answer) + 12])
        if window in chunk or (squash(answer) in chunk and squash(question.context[:80]) in chunk):
            return True
    return False
