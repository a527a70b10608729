"""Checks bench/realdocs/questions.json against the documents exactly as Hushdocs extracts them.

    .venv/bin/python -m bench.realdocs.verify              # every check, a summary; exit status 1 on a failure
    .venv/bin/python -m bench.realdocs.verify -v           # also list gold answers found on other pages too
    .venv/bin/python -m bench.realdocs.verify --page ID    # print the extracted text of a question's gold page

Answerable: every gold answer and key point occurs verbatim on the gold page (whitespace collapsed, case
ignored), in the text of the app's own PDF loader. Unanswerable: none of the question's ``absent`` phrases
(what an answer would have to say) occurs in any document, nor the question itself.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.realdocs import (
    KINDS,
    LONG_KINDS,
    SHORT_KINDS,
    RealQuestion,
    document_bytes,
    documents,
    indexed_name,
    install_hint,
    load_questions,
    missing_documents,
)
from bench.squad import squad_normalise

COPIED_WORDS = 8  # a question sharing this many consecutive words with its page copies the manual


def squash(text: str) -> str:
    return " ".join(text.split()).lower()


def page_texts(document: str) -> list[str]:
    """The squashed, lower-cased text of each page; index 0 is page 1."""
    from engine.ingest.loaders.pdf import load_pdf

    parsed = load_pdf(document_bytes(document), Path(indexed_name(document)))
    pages = {span.number: squash(parsed.text[span.start:span.end]) for span in parsed.pages}
    return [pages.get(number, "") for number in range(1, max(pages, default=0) + 1)]


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, question: RealQuestion, message: str) -> None:
        self.failures.append(f"{question.id}: {message}")

    def warn(self, question: RealQuestion, message: str) -> None:
        self.warnings.append(f"{question.id}: {message}")


def check_shape(question: RealQuestion, report: Report) -> None:
    if question.kind not in KINDS:
        report.fail(question, f"kind {question.kind!r} is not one of {', '.join(sorted(KINDS))}")
    if not question.question.strip() or "\n" in question.question:
        report.fail(question, "the question must be one non-empty line (the CLI reads one per line)")
    if not question.answerable:
        if question.page is not None or question.answers or question.key_points:
            report.fail(question, "an unanswerable question has page null and no answers or key points")
        if not question.absent:
            report.fail(question, "an unanswerable question lists the phrases an answer would need ('absent')")
        return
    if not isinstance(question.page, int) or question.page < 1:
        report.fail(question, "an answerable question needs a 1-based page")
    if question.kind in LONG_KINDS and not 2 <= len(question.key_points) <= 5:
        report.fail(question, f"a {question.kind} question needs 2 to 5 key points")
    if question.kind in SHORT_KINDS and not question.answers:
        report.fail(question, "a short-answer question needs at least one gold answer")
    for answer in question.answers + question.key_points:
        if len(squad_normalise(answer)) < 2:
            report.fail(question, f"{answer!r} normalises to almost nothing: any reply would contain it")


def check_answerable(question: RealQuestion, pages: list[str], report: Report, verbose: bool) -> None:
    assert question.page is not None
    if question.page > len(pages):
        report.fail(question, f"page {question.page} is past the end ({len(pages)} pages)")
        return
    page = pages[question.page - 1]
    for phrase in question.answers + question.key_points:
        if squash(phrase) not in page:
            report.fail(question, f"{phrase!r} is not on page {question.page}")
    for other in question.also_pages:
        if not 1 <= other <= len(pages) or not any(squash(a) in pages[other - 1] for a in question.answers):
            report.fail(question, f"also_pages: page {other} does not hold a gold answer")
    if question.answers and verbose:
        elsewhere = [n for n, text in enumerate(pages, 1)
                     if n not in question.gold_pages and squash(question.answers[0]) in text]
        if elsewhere:
            report.notes.append(f"{question.id}: {question.answers[0]!r} is also on page(s) "
                                f"{', '.join(map(str, elsewhere[:8]))}{' ...' if len(elsewhere) > 8 else ''}")
    asked = re.sub(r'"[^"]*"', " ", question.question)  # quoting an error message is what users do
    words = re.findall(r"\w+", asked.lower())
    for start in range(len(words) - COPIED_WORDS + 1):
        if " ".join(words[start:start + COPIED_WORDS]) in " ".join(re.findall(r"\w+", page)):
            report.warn(question, f"copies {COPIED_WORDS} words of its page: paraphrase it as a user would ask")
            break


def check_unanswerable(question: RealQuestion, corpus: dict[str, list[str]], report: Report) -> None:
    for phrase in [*question.absent, question.question.rstrip("?")]:
        needle = squash(phrase)
        for document, pages in corpus.items():
            hits = [n for n, text in enumerate(pages, 1) if needle in text]
            if hits:
                report.fail(question, f"{phrase!r} occurs in {Path(document).name} page(s) {hits[:5]}")


def summary(questions: list[RealQuestion], corpus: dict[str, list[str]]) -> list[str]:
    lines = ["documents:"]
    for document, pages in corpus.items():
        mine = [q for q in questions if q.document == document]
        lines.append(f"  {document}: {len(pages)} pages, {sum(q.answerable for q in mine)} answerable, "
                     f"{sum(not q.answerable for q in mine)} unanswerable")
    lines.append(f"  total: {sum(len(p) for p in corpus.values())} pages")
    answerable = [q for q in questions if q.answerable]
    kinds = Counter(q.kind for q in answerable)
    lines.append(f"answerable: {len(answerable)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); "
                 f"{sum(q.kind in LONG_KINDS for q in answerable)} scored by key points")
    lines.append(f"unanswerable: {sum(not q.answerable for q in questions)}")
    return lines


def verify(questions: list[RealQuestion], verbose: bool = False) -> tuple[Report, dict[str, list[str]]]:
    report = Report()
    corpus = {document: page_texts(document) for document in documents(questions)}
    seen: Counter[str] = Counter(q.id for q in questions)
    texts: Counter[str] = Counter(squash(q.question) for q in questions)
    for question in questions:
        if seen[question.id] > 1:
            report.fail(question, "duplicate id")
        if texts[squash(question.question)] > 1:
            report.fail(question, "the same question is asked twice")
        check_shape(question, report)
        if question.answerable:
            if isinstance(question.page, int):
                check_answerable(question, corpus[question.document], report, verbose)
        else:
            check_unanswerable(question, corpus, report)
    return report, corpus


def show_page(questions: list[RealQuestion], question_id: str) -> int:
    question = next((q for q in questions if q.id == question_id), None)
    if question is None or question.page is None:
        print(f"no answerable question {question_id}", file=sys.stderr)
        return 1
    print(page_texts(question.document)[question.page - 1])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="list gold answers also found on other pages")
    parser.add_argument("--page", metavar="ID", help="print the extracted text of this question's gold page")
    args = parser.parse_args(argv)
    questions = load_questions()
    missing = missing_documents(questions)
    if missing:
        print(install_hint(missing), file=sys.stderr)
        return 1
    if args.page:
        return show_page(questions, args.page)
    report, corpus = verify(questions, args.verbose)
    print("\n".join(summary(questions, corpus)))
    for title, lines in (("notes", report.notes), ("warnings", report.warnings), ("FAILURES", report.failures)):
        if lines:
            print(f"{title} ({len(lines)}):\n  " + "\n  ".join(lines))
    print("OK" if not report.failures else f"{len(report.failures)} failure(s)")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
