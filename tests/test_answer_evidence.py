"""Answers a person can check: the default chat model on real files, every answer sentence with its quote.

The cases come from trying the app as a new user: an evidence sentence next to a misleading one (the
IDL page), an unanswerable question over a page full of its words (winter storage), an answerable
question that was declined (the harbour master), the exact highlight of a quoted sentence in a PDF,
and a question whose answer is a list of steps.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pymupdf
import pytest

from engine.api import Answer, Engine, PageView, render_page
from engine.embedding.embedder import OnnxEmbedder
from engine.generation.answer import NOT_FOUND_MESSAGE, Answerer, confidence_signals, words_beyond
from engine.generation.llm import ChatMessage, Generator
from engine.generation.speeds import Speed
from engine.settings import Settings
from tests.support.documents import write_pdf

# A manual page as PDFs lay it out: the answering sentence is wrapped across lines, right after a line
# about "Interfacing with C" that a line-based cut once stopped at.
IDL_PAGE = ("Chapter 3. Bindings\n"
            "Interfacing with C is described in the next chapter: it explains how C functions are\n"
            "declared, how their arguments are converted and how the functions to be\n"
            "called from scripts are registered with the runtime. IDL stands for\n"
            "Interface Description Language, the notation in which the signatures of those\n"
            "functions are written. The binding generator reads the IDL file and writes the glue code.")
CLUB_PAGES = [
    "Fjordvik Boat Club\n\nThe club was founded in 1962 by local fishermen. The harbour master, Ingrid Solberg, "
    "assigns the berths and keeps the waiting list. Members meet on the first Monday of each month in the "
    "clubhouse.",
    "Fees of the boat club for 2024\n\nSummer mooring at the boat club costs 720 euros for boats up to 8 metres; "
    "boats over 8 metres pay 950 euros. The boat club keeps a rack for the storage of dinghies and kayaks, free "
    "for members. In winter the pontoons are taken out of the water and the clubhouse is closed.",
]
LAUNCH_STEPS = ("Launching a boat from the club slipway\n\n"
                "First, book a slot with the harbour master at least one day ahead. "
                "Then attach the trailer to a car with a tow bar and reverse it down the slipway slowly. "
                "Finally, release the winch strap and push the boat off the trailer into the water. "
                "The slipway is closed during storms.")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("evidence-library")
    write_pdf(folder / "bindings.pdf", ["Contents\n\n1. Bindings\n2. Interfacing with C", IDL_PAGE])
    write_pdf(folder / "boat-club.pdf", CLUB_PAGES)
    (folder / "slipway.md").write_text(f"# Slipway\n\n{LAUNCH_STEPS}\n", "utf-8")
    return folder


@pytest.fixture(scope="module")
def engine(library: Path, default_model_path: Path, embedder: OnnxEmbedder,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    database = tmp_path_factory.mktemp("evidence-home") / "index.sqlite3"
    engine = Engine(Settings(chat_model=str(default_model_path), context_size=4096, temperature=0.0),
                    database=database, embedder=embedder)
    list(engine.index([library], "Club"))
    yield engine
    engine.close()


def answer_of(engine: Engine, question: str) -> Answer:
    done = [e.answer for e in engine.ask(question) if e.kind == "done"]
    assert len(done) == 1 and done[0] is not None
    return done[0]


def test_the_evidence_sentence_next_to_a_misleading_one(engine: Engine) -> None:
    answer = answer_of(engine, "What does IDL stand for?")
    assert answer.grounded, answer.to_json()
    assert "Interface Description Language" in answer.text
    quotes = [q for c in answer.citations for q in c.quotes]
    assert quotes and all(c.page == 2 and c.path.endswith("bindings.pdf") for c in answer.citations)
    quoted = " ".join(" ".join(q.text.split()) for q in quotes)
    assert "IDL stands for Interface Description Language" in quoted
    assert "Interfacing with C is described" not in quoted  # the misleading sentence is not quoted


def test_an_unanswerable_question_over_a_page_full_of_its_words_is_declined(engine: Engine) -> None:
    answer = answer_of(engine, "How much does winter storage cost at the boat club?")
    assert not answer.grounded, answer.to_json()
    assert answer.text == NOT_FOUND_MESSAGE and answer.citations == []
    assert "720" not in answer.text
    assert answer.passages, "a decline offers the closest passages it found"


def test_the_harbour_master_is_found(engine: Engine) -> None:
    answer = answer_of(engine, "What is the harbour master's name?")
    assert answer.grounded and "Ingrid Solberg" in answer.text, answer.to_json()
    citation = answer.citations[0]
    assert citation.path.endswith("boat-club.pdf") and citation.page == 1
    assert any("Ingrid Solberg" in q.text for q in citation.quotes)


def test_a_quoted_sentence_is_highlighted_exactly_on_the_pdf_page(engine: Engine, library: Path) -> None:
    answer = answer_of(engine, "What does IDL stand for?")
    quote = next(q for c in answer.citations for q in c.quotes)
    path = str(library / "bindings.pdf")
    rendered = render_page(path, quote.page or 1, [quote.text], PageView("zoom", 1.0))
    assert rendered.highlights
    zoom = rendered.pixels_per_point
    document = pymupdf.open(path)
    page = document[1]
    inside = [pymupdf.Rect(*(v / zoom for v in box)) for box in rendered.highlights]
    wanted = page.search_for("Interface Description Language")
    misleading = page.search_for("Interfacing with C is described")
    document.close()
    assert wanted and misleading

    def marked(rect: pymupdf.Rect) -> bool:
        return any(box.intersects(rect) and (box & rect).get_area() > 0.5 * rect.get_area() for box in inside)

    assert all(marked(r) for r in wanted)
    assert not any(marked(r) for r in misleading)


def test_a_list_question_is_answered_with_several_cited_sentences(engine: Engine) -> None:
    answer = answer_of(engine, "What are the steps to launch a boat from the club slipway?")
    assert answer.grounded, answer.to_json()
    quoted = " ".join(q.text for c in answer.citations for q in c.quotes)
    steps = ["book a slot", "reverse it down the slipway", "release the winch strap"]
    assert sum(step in quoted for step in steps) >= 2, answer.to_json()
    assert len([s for s in answer.sentences if s.quotes]) >= 2 or len({q.text for c in answer.citations
                                                                        for q in c.quotes}) >= 2
    assert all(s.supported for s in answer.sentences)


class ScriptedReply:
    """The real chat model for everything but the reply, which the test writes: what is under test is the
    decision the app takes on a reply, and a small model's exact wording cannot be ordered up."""

    def __init__(self, model: Generator, reply: str, probability: float | None = None,
                 doubt: float | None = None) -> None:
        self.model, self.reply = model, reply
        self.name, self.n_ctx = model.name, model.n_ctx
        # each word of the reply as a token the model gave ``probability`` (None: a backend that does not tell)
        self.reply_tokens: list[tuple[str, float]] = (
            [] if probability is None else [(piece, math.log(probability)) for piece in re.findall(r"\s*\S+", reply)])
        self.last_speed: Speed | None = None  # a scripted reply's speed is nobody's
        self.withheld_probability = doubt  # what the model would have given the withheld refusal

    def stream_chat(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float,
                    stop: threading.Event | None = None, withhold: str = "") -> Iterator[str]:
        yield self.reply

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def close(self) -> None:
        """The engine owns the model."""


def scripted_answer(engine: Engine, question: str, reply: str, probability: float | None = None,
                    doubt: float | None = None) -> Answer:
    answerer = Answerer(engine.retriever(), lambda: ScriptedReply(engine.generator(), reply, probability, doubt),
                        engine.settings)
    done = [e.answer for e in answerer.ask(question) if e.kind == "done"]
    assert len(done) == 1 and done[0] is not None
    return done[0]


def test_a_reply_that_only_says_the_question_back_is_declined(engine: Engine) -> None:
    # The page says where and on which day the members meet, not at what time; the reply restates the question
    # with the page's own words, so every other check passes it.
    echo = scripted_answer(engine, "At what time do members meet in the clubhouse on the first Monday of each month?",
                           "Members meet in the clubhouse on the first Monday of each month [1].")
    assert not echo.grounded and echo.decision == "restates the question", echo.to_json()
    # The same kind of reply with the word asked for is an answer.
    answer = scripted_answer(engine, "Who assigns the berths at the boat club?",
                             "The harbour master, Ingrid Solberg, assigns the berths [1].")
    assert answer.grounded and answer.decision == "answered", answer.to_json()
    # A word that only begins like one of the question's is new: "fishermen" is not "fishers" (six-letter stems
    # made "Normandy" the question's "Normans" and declined the right answer).
    who = scripted_answer(engine, "Which fishers founded the boat club?", "Fishermen founded the boat club [1].")
    assert who.grounded and who.decision == "answered", who.to_json()
    # A question that offers a choice is answered with one of its own words.
    choice = scripted_answer(engine, "Was the boat club founded in 1962 or in 1972?",
                             "The club was founded in 1962 [1].")
    assert choice.grounded, choice.to_json()


def test_a_number_written_out_is_supported_by_its_figures_and_only_by_them(engine: Engine) -> None:
    # The fees page says "boats up to 8 metres"; the model may write the number out.
    question = "Up to what length does a boat pay the summer mooring fee of 720 euros?"
    written_out = scripted_answer(engine, question, "Eight metres [2].", probability=0.9, doubt=0.01)
    assert written_out.grounded, written_out.to_json()
    assert "8 metres" in written_out.sentences[0].quotes[0].text
    wrong = scripted_answer(engine, question, "Nine metres [2].", probability=0.9, doubt=0.01)
    assert not wrong.grounded, wrong.to_json()


def test_the_models_confidence_is_read_on_the_words_that_answer() -> None:
    # "The fee is 720 euros": the words taken from the question are certain, the answer's own words are not.
    tokens = [("The", -0.01), (" fee", -0.02), (" is", -0.01), (" 7", -2.0), ("20", -0.4), (" euros", -0.3),
              (" [", -0.05), ("1", -0.01), ("].", -0.01)]
    new_words = words_beyond("What is the fee?", ["The fee is 720 euros [1]."])
    assert new_words == {"720", "euro"}
    signals = confidence_signals(tokens, new_words)
    assert signals["answer_confidence"] == pytest.approx(math.exp((-2.0 - 0.3) / 2))  # the first token of each
    assert signals["weakest_answer_word"] == pytest.approx(math.exp(-2.0))
    assert signals["confidence"] == pytest.approx(math.exp(sum(lp for _, lp in tokens) / len(tokens)))
    assert confidence_signals([], new_words) == {}  # a backend that does not tell


def test_an_answer_the_model_was_unsure_of_is_declined(engine: Engine) -> None:
    # The same supported reply, once as a guess (each word at probability 0.2) and once as the model reads it off
    # the page (0.9): only the guess is declined.
    question = "Who assigns the berths at the boat club?"
    reply = "The harbour master, Ingrid Solberg, assigns the berths [1]."
    guess = scripted_answer(engine, question, reply, probability=0.2)
    assert not guess.grounded and guess.decision == "the model was unsure", guess.to_json()
    assert guess.checks["answer_confidence"] == pytest.approx(0.2)
    sure = scripted_answer(engine, question, reply, probability=0.9)
    assert sure.grounded and sure.decision == "answered", sure.to_json()
    unknown = scripted_answer(engine, question, reply)  # a server that gives no probabilities: not held against it
    assert unknown.grounded and "answer_confidence" not in unknown.checks, unknown.to_json()


def test_an_answer_the_model_doubted_is_declined(engine: Engine) -> None:
    # The same supported reply, its words read off the page; once the model gave the offered "Not in the
    # documents." more than max_doubt at the first token (then withheld), once less: only the first is declined.
    question = "Who assigns the berths at the boat club?"
    reply = "The harbour master, Ingrid Solberg, assigns the berths [1]."
    limit = engine.settings.max_doubt
    doubted = scripted_answer(engine, question, reply, probability=0.9, doubt=limit + 0.05)
    assert not doubted.grounded and doubted.decision == "the model doubted the documents", doubted.to_json()
    assert doubted.checks["doubt"] == pytest.approx(limit + 0.05)
    trusted = scripted_answer(engine, question, reply, probability=0.9, doubt=limit - 0.05)
    assert trusted.grounded and trusted.decision == "answered", trusted.to_json()


def test_the_doubt_replaces_the_coverage_floor_only_where_it_is_known(engine: Engine) -> None:
    # The quoted sentence ("founded in 1962") holds none of the question's rarer words: the coverage floor declines
    # it when the model's doubt is unknown (a server); where the doubt is known, it decides instead.
    question = "When were the pontoons replaced?"
    reply = "In 1962 [1]."
    unknown = scripted_answer(engine, question, reply, probability=0.9)
    assert unknown.checks["quote_coverage"] < engine.settings.min_question_coverage, unknown.to_json()
    assert not unknown.grounded and unknown.decision == "question not covered", unknown.to_json()
    sure = scripted_answer(engine, question, reply, probability=0.9, doubt=0.01)
    assert sure.grounded, sure.to_json()
    doubted = scripted_answer(engine, question, reply, probability=0.9, doubt=0.6)
    assert not doubted.grounded and doubted.decision == "the model doubted the documents", doubted.to_json()


def test_the_offered_refusal_is_recognised_in_the_forms_the_model_writes_it(engine: Engine) -> None:
    # The prompt offers "Not in the documents."; withheld as the first token, the model may still say it of the
    # subject, or as a server's model would, in full.
    for reply in ("Not in the documents.", "The colour of the boat is not in the documents.",
                  "The documents do not say."):
        refused = scripted_answer(engine, "What colour is the harbour master's boat?", reply)
        assert not refused.grounded and refused.decision == "refused by the model", (reply, refused.to_json())
    kept = scripted_answer(engine, "Who assigns the berths at the boat club?",
                           "The harbour master, Ingrid Solberg, assigns the berths [1].", probability=0.9, doubt=0.01)
    assert kept.grounded, kept.to_json()


def test_a_reply_of_bare_list_numbers_is_declined(engine: Engine) -> None:
    # The small model starts a numbered list and writes nothing after the numbers; the digits are on the page.
    numbers = scripted_answer(engine, "How do I book a summer mooring at the boat club?", "8 [1].\n720 [1].\n950 [1].")
    assert not numbers.grounded and numbers.decision == "only list numbers", numbers.to_json()
    count = scripted_answer(engine, "How many metres long may a boat be for the lower mooring fee?", "8 [1].")
    assert count.grounded, count.to_json()  # one number can be the answer
