"""The chat: a conversation's exchanges, the question box, streaming answers with stop and retry."""

from __future__ import annotations

import html
import itertools
import threading
import time
from collections.abc import Callable, Iterator

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from engine.api import HISTORY_TURNS, AnswerEvent, Citation, Engine, Message
from ui.messages import AnswerView, QuestionView
from ui.workers import Throttle, Worker, WorkerPool

NO_DOCUMENTS_HINT = ("There are no documents in your library yet, so there is nothing to answer from. "
                     "Drop a folder or files on this window, or press **Ctrl+O** to choose a folder; "
                     "then ask again.")


class PromptEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatPanel(QWidget):
    citation_clicked = Signal(object)  # Citation
    conversation_changed = Signal(int)  # a conversation was created or got a new message
    busy_changed = Signal(bool)
    answered = Signal(object)  # the engine's Answer, after it is shown and saved
    error = Signal(str)

    def __init__(self, engine: Engine, pool: WorkerPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.pool = pool
        self.conversation_id: int | None = None
        self.collection: str | None = None
        self.has_documents: Callable[[], bool] = lambda: True  # the main window says if the library has anything
        self._messages: list[Message] = []
        self._worker: Worker | None = None
        self._answer: AnswerView | None = None
        self._pieces: list[str] = []
        self._first_token_at = 0.0
        self._render = Throttle(self._render_stream, 100, self)

        self.title = QLabel("<b>New chat</b>")
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.thread_widget = QWidget()
        self.thread_layout = QVBoxLayout(self.thread_widget)
        self.thread_layout.setSpacing(10)
        self.placeholder = QLabel("<h3>Ask a question about your documents</h3>"
                                  "<p>Answers come only from your own files, with the passages they rely on. "
                                  "Press Enter to send, Shift+Enter for a new line, Esc to stop.</p>")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)
        self.thread_layout.addWidget(self.placeholder)
        self.thread_layout.addStretch(1)
        self.scroller.setWidget(self.thread_widget)
        self.scroller.verticalScrollBar().rangeChanged.connect(self._follow)
        self._at_bottom = True
        self.scroller.verticalScrollBar().valueChanged.connect(self._remember_position)

        self.prompt = PromptEdit()
        self.prompt.setPlaceholderText("Ask about your documents…")
        self.prompt.setFixedHeight(self.prompt.fontMetrics().lineSpacing() * 3 + 16)
        self.prompt.submitted.connect(self.send)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        row = QHBoxLayout()
        row.addWidget(self.prompt, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row.addLayout(buttons)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.scroller, 1)
        layout.addLayout(row)

    # -- conversations --------------------------------------------------------------------------

    def new_chat(self) -> None:
        if self.is_busy():
            self.stop()
        self.conversation_id = None
        self._messages = []
        self._clear()
        self.title.setText("<b>New chat</b>")
        self.prompt.setFocus()

    def load_conversation(self, conversation_id: int) -> None:
        if conversation_id == self.conversation_id:
            return
        if self.is_busy():
            self.stop()
        store = self.engine.conversations()
        conversation = store.get(conversation_id)
        if conversation is None:
            self.new_chat()
            return
        self.conversation_id = conversation_id
        self._messages = store.messages(conversation_id)
        self._clear()
        self.title.setText(f"<b>{_escape(conversation.title)}</b>")
        last_answer = max((i for i, m in enumerate(self._messages) if m.role == "assistant"), default=-1)
        for index, message in enumerate(self._messages):
            if message.role == "user":
                self._add(QuestionView(message.content))
            else:
                view = self._new_answer_view()
                view.finish(message.content, message.citations, can_retry=index == last_answer,
                            sources_forgotten=message.sources_forgotten)
                self._add(view)

    def set_title(self, title: str) -> None:
        self.title.setText(f"<b>{_escape(title)}</b>")

    def answer_views(self) -> list[AnswerView]:
        return [w for w in self.thread_widget.findChildren(AnswerView)]

    # -- asking ---------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self._worker is not None

    def send(self) -> None:
        question = self.prompt.toPlainText().strip()
        if not question or self.is_busy():
            return
        self.prompt.clear()
        self.ask(question)

    def ask(self, question: str) -> None:
        if self.is_busy():
            return
        self.placeholder.hide()
        if not self.has_documents():
            self._add(QuestionView(question))
            view = self._new_answer_view()
            view.finish(NO_DOCUMENTS_HINT, [], notice=NO_DOCUMENTS_HINT, can_retry=False)
            self._add(view)
            return
        store = self.engine.conversations()
        if self.conversation_id is None:
            title = question if len(question) <= 60 else question[:57].rstrip() + "…"
            self.conversation_id = store.create(title, self.collection).id
            self.set_title(title)
        history = self._history()
        self._messages.append(store.add_message(self.conversation_id, "user", question))
        self.conversation_changed.emit(self.conversation_id)
        self._add(QuestionView(question))
        self._start(question, history)

    def retry(self) -> None:
        """Ask the last question again, replacing its answer."""
        if self.is_busy() or self.conversation_id is None or not self._messages:
            return
        if self._messages[-1].role == "assistant":
            self.engine.conversations().delete_last_answer(self.conversation_id)
            self._messages.pop()
            views = self.answer_views()
            if views:
                views[-1].deleteLater()
                views[-1].setParent(None)
        if not self._messages or self._messages[-1].role != "user":
            return
        question = self._messages[-1].content
        self._start(question, self._history(self._messages[:-1]))

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            if self._answer is not None:
                self._answer.set_status("Stopping…")

    def _history(self, messages: list[Message] | None = None) -> list[tuple[str, str]]:
        messages = self._messages if messages is None else messages
        pairs: list[tuple[str, str]] = []
        for first, second in itertools.pairwise(messages):
            if first.role == "user" and second.role == "assistant":
                pairs.append((first.content, second.content))
        return pairs[-HISTORY_TURNS:]

    def _start(self, question: str, history: list[tuple[str, str]]) -> None:
        view = self._answer = self._new_answer_view()
        view.set_status("Thinking…")
        view.set_streaming_text("")
        self._add(view)
        for older in self.answer_views():
            if older is not view:
                older.retry_button.hide()
        self._pieces = []
        engine, collection = self.engine, self.collection

        def run(stop: threading.Event) -> Iterator[AnswerEvent]:
            return engine.ask(question, history, collection=collection, stop=stop)

        self._worker = self.pool.start(run, name="answer", on_item=self._on_event, on_error=self._on_error,
                                       on_finished=self._on_finished)
        self._set_busy(True)

    def _on_event(self, event: AnswerEvent) -> None:
        view = self._answer
        if view is None:
            return
        if event.kind == "status":
            view.set_status(event.text)
        elif event.kind == "token":
            now = time.monotonic()
            if not self._pieces:
                self._first_token_at = now
            self._pieces.append(event.text)
            elapsed = now - self._first_token_at
            rate = f" · {(len(self._pieces) - 1) / elapsed:.0f} tokens/s" if elapsed > 0.5 else ""
            view.set_status(f"Writing…{rate}")
            self._render()
        elif event.kind == "done" and event.answer is not None:
            self._render.flush()
            answer = event.answer
            closest = [Citation(n, h.path, h.page, h.start, h.end, h.text, h.title, h.section, h.document_id)
                       for n, h in enumerate(answer.closest, start=1)]
            view.finish(answer.text, answer.citations, notice=answer.notice, stopped=answer.stopped,
                        closest=closest, left_out=answer.left_out)
            if self.conversation_id is not None and answer.text.strip():
                message = self.engine.conversations().add_message(self.conversation_id, "assistant", answer.text,
                                                                  answer.citations)
                self._messages.append(message)
                self.conversation_changed.emit(self.conversation_id)
            self.answered.emit(answer)

    def _render_stream(self) -> None:
        if self._answer is not None and not self._answer.finished:
            self._answer.set_streaming_text("".join(self._pieces))

    def _on_error(self, message: str) -> None:
        if self._answer is not None:
            self._answer.show_error(message)
        self.error.emit(message)

    def _on_finished(self) -> None:
        self._worker = None
        if self._answer is not None and not self._answer.finished:  # crashed: the crash dialog says why
            self._answer.show_error("something went wrong; see the error report.")
        self._answer = None
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.send_button.setVisible(not busy)
        self.stop_button.setVisible(busy)
        self.busy_changed.emit(busy)

    # -- layout ---------------------------------------------------------------------------------

    def _new_answer_view(self) -> AnswerView:
        view = AnswerView()
        view.citation_clicked.connect(self.citation_clicked)
        view.retry_requested.connect(self.retry)
        return view

    def _add(self, widget: QWidget) -> None:
        self.placeholder.hide()
        self.thread_layout.insertWidget(self.thread_layout.count() - 1, widget)
        self._at_bottom = True

    def _clear(self) -> None:
        for view in self.thread_widget.findChildren(QFrame, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if not isinstance(view, QuestionView | AnswerView):
                continue
            view.setParent(None)
            view.deleteLater()
        self.placeholder.setVisible(not self._messages)

    def _remember_position(self, value: int) -> None:
        bar = self.scroller.verticalScrollBar()
        self._at_bottom = value >= bar.maximum() - 24

    def _follow(self, _minimum: int, maximum: int) -> None:
        if self._at_bottom:  # keep following a growing answer unless the reader scrolled up
            self.scroller.verticalScrollBar().setValue(maximum)


def _escape(text: str) -> str:
    return html.escape(text)

