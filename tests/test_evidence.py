"""Passages focused on the sentences that answer: real indexed text, real model tokens, exact spans."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from engine.api import Engine
from engine.embedding.embedder import OnnxEmbedder
from engine.generation.answer import Answerer
from engine.generation.evidence import focus_passages, sentence_spans
from engine.generation.llm import Generator, LlamaGenerator
from engine.library import Searcher
from engine.models_catalogue import QWEN_05B, QWEN_15B
from engine.records import Hit
from engine.settings import Settings
from tests.support.documents import write_pdf

FILLER = ("The committee met in the spring and again in the autumn, and its minutes were read aloud each time. "
          "Members discussed the budget, the state of the roads and the timetable of the ferry. ")
ANSWER = "The new bridge over the Tagus estuary will be painted vermilion, the mayor announced on Tuesday."
MINUTES = "\n\n".join([FILLER * 2, FILLER + ANSWER + " " + FILLER, FILLER * 2])


def test_sentences_keep_their_punctuation_and_end_at_list_items_not_line_ends() -> None:
    text = 'First one. Second "quoted." Third?\nA heading\nLast one!'
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "First one.", 'Second "quoted."', "Third?", "A heading\nLast one!"]
    # A PDF line end inside a sentence is not its end (the IDL case: the answer is on the next line).
    wrapped = ("how the functions to be\ncalled are registered. IDL stands for\nInterface Description Language, "
               "e.g. for CORBA (see Fig. 3).\nOptions:\n• --dist DIST\n• --arch ARCH")
    assert [wrapped[a:b] for a, b in sentence_spans(wrapped)] == [
        "how the functions to be\ncalled are registered.", "IDL stands for\nInterface Description Language, "
        "e.g. for CORBA (see Fig. 3).", "Options:", "• --dist DIST", "• --arch ARCH"]


def test_the_excerpt_is_the_answering_sentences_and_its_span_is_exact(
        tmp_path: Path, embedder: OnnxEmbedder, tiny_generator: LlamaGenerator) -> None:
    (tmp_path / "minutes.txt").write_text(MINUTES, "utf-8")
    with Engine(Settings(), embedder=embedder) as engine:
        list(engine.index([tmp_path]))
        hits = engine.search("What colour will the bridge be painted?", k=3)
    assert ANSWER in hits[0].text
    focused = focus_passages("What colour will the bridge be painted?", hits, tiny_generator.count_tokens, 60)
    excerpt = focused[0]
    assert ANSWER in excerpt.text
    assert tiny_generator.count_tokens(excerpt.text) <= 60 < tiny_generator.count_tokens(hits[0].text)
    assert MINUTES[excerpt.start:excerpt.end] == excerpt.text  # the citation highlights exactly this


def test_a_short_passage_or_no_budget_stays_whole(tiny_generator: LlamaGenerator) -> None:
    short = Hit(1, 1, "/a.txt", "a", None, "", 0, 20, "Only a short passage.", 1.0)
    long = Hit(2, 1, "/a.txt", "a", None, "", 0, 2000, "A sentence of words. " * 100, 1.0)
    assert focus_passages("passage?", [short], tiny_generator.count_tokens, 60) == [short]
    assert focus_passages("passage?", [long], tiny_generator.count_tokens, 0) == [long]


def test_offsets_map_through_merged_chunks() -> None:
    first = "Alpha sentence here. Beta sentence here."
    second = "Gamma names the keeper Ada. Delta closes."
    merged = Hit(1, 1, "/m.txt", "m", 1, "", 100, 900, f"{first}\n\n{second}", 1.0,
                 anchors=((0, 100), (len(first) + 2, 850)))
    excerpt = focus_passages("Who is the keeper named by gamma?", [merged], lambda s: len(s.split()), 6)[0]
    assert excerpt.text == "Gamma names the keeper Ada."
    assert (excerpt.start, excerpt.end) == (850, 850 + len(excerpt.text))


@pytest.mark.parametrize("offset, expected", [(0, 100), (5, 105), (42, 850), (50, 858)])
def test_document_offset_follows_anchors(offset: int, expected: int) -> None:
    hit = Hit(1, 1, "/m.txt", "m", 1, "", 100, 900, "x" * 60, 1.0, anchors=((0, 100), (42, 850)))
    assert hit.document_offset(offset) == expected


_FOCUS_IN_A_FRESH_PROCESS = """
import json, random
from engine.generation.evidence import focus_passages
from engine.records import Hit
rng = random.Random(3)
words = ["boiler", "valve", "pressure", "gauge", "relief", "thermostat", "pump", "circuit", "heating", "radiator",
         "bleed", "flush", "anode", "expansion", "vessel", "sensor"]
question = "How do I check the boiler pressure gauge and the relief valve of the heating circuit pump?"
starts = []
for n in range(60):
    text = " ".join(" ".join(rng.sample(words, rng.randint(1, 4))).capitalize() + " is described here."
                    for _ in range(12))
    hit = Hit(chunk_id=n, document_id=1, path="/manual.pdf", title="manual", page=1, section="", start=0,
              end=len(text), text=text, score=1.0, similarity=0.5, chunk_ids=(n,), ranks={})
    starts.append(focus_passages(question, [hit], lambda t: len(t.split()), 30)[0].start)
print(json.dumps(starts))
"""


def test_the_focus_does_not_depend_on_the_processs_hash_seed() -> None:
    # Passages whose sentences share the question's words in many combinations: runs of sentences holding the
    # same words tie. Summed in set order, their scores differed in the last bit from one process to the next
    # (Python salts string hashes per process), and so did which run the model was given.
    chosen = {subprocess.run([sys.executable, "-c", _FOCUS_IN_A_FRESH_PROCESS], capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
              for seed in range(6)}
    assert len(chosen) == 1


# A manual's page as its text layer reads: the sentence with the question's words, then the answer, which shares
# none of them (the command, the value).
_BEFORE = ("Packaging work is best done on the current development release. A container keeps it apart from the "
           "rest of the system. The tools below are used throughout this guide. ")
_AFTER = (" This command will install the following software. Each tool is described in its own section. "
          "Later chapters assume they are installed. The last section lists their manual pages.")


def _focused(text: str, question: str, generator: LlamaGenerator, budget: int = 60) -> str:
    hit = Hit(1, 1, "/guide.pdf", "guide", 3, "", 0, len(text), text, 1.0)
    excerpt = focus_passages(question, [hit], generator.count_tokens, budget)[0]
    assert text[excerpt.start:excerpt.end] == excerpt.text
    return excerpt.text


def test_what_follows_the_questions_words_is_read_too(tiny_generator: LlamaGenerator) -> None:
    # Every run that holds the one matching sentence ties; the first of them ended on it and cut off the next
    # sentence, which gives the value (the GPG key size case in the realdocs manuals).
    text = (_BEFORE + "Next gpg asks you about the keysize of your new key. The default, currently 2048, is fine."
            + _AFTER)
    excerpt = _focused(text, "Which keysize does gpg propose for a new key?", tiny_generator)
    assert "currently 2048" in excerpt
    assert tiny_generator.count_tokens(excerpt) <= 60 < tiny_generator.count_tokens(text)


def test_a_sentence_that_ends_on_a_colon_keeps_what_it_introduces(tiny_generator: LlamaGenerator) -> None:
    text = (_BEFORE + "To install the basic packaging tools, run this command:\n\n"
            "$ sudo apt install gnupg pbuilder ubuntu-dev-tools apt-file\n\n" + _AFTER.strip())
    excerpt = _focused(text, "Which command installs the basic packaging tools?", tiny_generator, budget=30)
    assert "sudo apt install gnupg pbuilder ubuntu-dev-tools apt-file" in excerpt


def test_two_words_of_the_question_match_the_one_word_a_manual_writes(tiny_generator: LlamaGenerator) -> None:
    text = _BEFORE + "Next it will ask you about the keysize. Currently 2048 is fine, 4096 is safer." + _AFTER
    excerpt = _focused(text, "What key size should I choose?", tiny_generator)
    assert "Currently 2048" in excerpt


# The answer four sentences past the one holding the question's words: the explanation between them is longer
# than an 80-token focus, and the answering sentence shares none of the question's words.
_SYNC_PAGE = ("Synchronising the archive\n\n"
              "The archive can be synchronised with a second machine over the local network. "
              "Both machines must run the same release, and the clocks of the two should agree within a minute, "
              "or files changed on both sides near midnight may be copied the wrong way. "
              "A first copy of a large archive takes a while; later copies send only what changed since the last "
              "one, so they finish in seconds. The copy runs in the background and can be paused from the status "
              "bar. Unless told otherwise, both ends talk over TCP on 22000 and announce themselves on the network.")
_BACKUP_PAGE = ("Backing up the archive\n\nA backup is a compressed copy of the whole archive written to a folder "
                "of your choice. Backups are kept for thirty days and the oldest are removed first.")


@pytest.mark.parametrize("best_passage_tokens", [160, 0])
def test_the_best_passage_can_be_read_wider_than_the_others(
        tmp_path: Path, embedder: OnnxEmbedder, tiny_generator: LlamaGenerator, best_passage_tokens: int) -> None:
    write_pdf(tmp_path / "archive.pdf", [_BACKUP_PAGE, _SYNC_PAGE])
    question = "Which port does synchronising the archive use?"
    with Engine(Settings(), embedder=embedder) as engine:
        list(engine.index([tmp_path]))
        retriever = engine.retriever()

        def read(settings: Settings) -> list[Hit]:
            answerer = Answerer(retriever, lambda: tiny_generator, settings)
            return answerer.choose_passages(question, answerer.candidates(question, None), tiny_generator, [])[0]

        narrow = read(Settings())
        wide = read(Settings(best_passage_tokens=best_passage_tokens))
    assert narrow[0].page == 2 and "22000" not in narrow[0].text  # the default focus cuts the answer off
    assert wide[0].page == 2 and "22000" in wide[0].text and "synchronised with a second machine" in wide[0].text
    assert [h.text for h in wide[1:]] == [h.text for h in narrow[1:]]  # the others are focused as before
    if best_passage_tokens:
        assert tiny_generator.count_tokens(wide[0].text) <= best_passage_tokens


def test_each_chat_model_reads_what_was_measured_for_it(tiny_generator: LlamaGenerator) -> None:
    class NamedOnly:  # only the model's file name matters to the choice
        def __init__(self, name: str) -> None:
            self.name = name

    def reading(settings: Settings, model_file_name: str) -> tuple[int, int]:
        answerer = Answerer(cast(Searcher, None), lambda: tiny_generator, settings)
        return answerer.reading(cast(Generator, NamedOnly(model_file_name)))

    assert reading(Settings(), QWEN_15B.file_name) == (2, 160)
    assert reading(Settings(), QWEN_05B.file_name) == (3, 80) == reading(Settings(), "my-own-model.gguf")
    assert reading(Settings(), tiny_generator.name) == (3, 80)
    # what the person set goes first
    assert reading(Settings(passages=4, best_passage_tokens=0), QWEN_15B.file_name) == (4, 0)
    assert reading(Settings(passage_tokens=120), QWEN_05B.file_name) == (3, 120)
