"""The chat: a conversation's exchanges, the question box, streaming answers with stop and retry.

Each answer being written is an ``AnswerRun`` tied to the conversation it belongs to; its events reach the
screen only while the panel shows that run. A new chat or another conversation during an answer stops it
(the one chat model is then free for the next question at once), and the fragment is saved as stopped in
its own conversation. Every write goes through the ``OpRunner``, off the GUI thread.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCursor, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.api import HISTORY_TURNS, Answer, AnswerEvent, Citation, Conversation, Engine, Hit, HushdocsError, Message
from ui.elided_label import ElidedLabel
from ui.evidence import EvidenceCard, Thumbnails
from ui.messages import AnswerView, QuestionView
from ui.workers import Changes, OpRunner, Throttle, Worker, WorkerPool

NO_DOCUMENTS_HINT = ("There are no documents in your library yet, so there is nothing to answer from. "
                     "Drop a folder or files on this window, or press **Ctrl+O** to choose a folder; "
                     "then ask again.")


@dataclass(eq=False)
class AnswerRun:
    """One answer being prepared: its question and conversation, and its view while the panel shows it."""

    question: str
    history: list[tuple[str, str]]
    view: AnswerView | None  # None once the panel shows another conversation: its events no longer show
    # Set on the GUI thread before the question is saved, or by the operation that creates the conversation
    # (on the op thread, which also runs the save of the answer after it: ops run in order).
    conversation_id: int | None = None
    worker: Worker | None = None
    pieces: list[str] = field(default_factory=list)
    first_token_at: float = 0.0
    saving: bool = False  # the answer's save is queued: the run ends once it is written


class CollectionChoice(QToolButton):
    """Which collections the conversation searches: a compact menu of checkable collections above the box."""

    chosen = Signal(object)  # list[str] | None (None: all collections)

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.collections: list[str] | None = None
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setAutoRaise(True)
        self.setToolTip("Which collections this conversation's answers come from")
        self.setMenu(QMenu(self))
        self.menu().aboutToShow.connect(self._fill)
        self.set_collections(None)

    def set_collections(self, collections: list[str] | None) -> None:
        self.collections = sorted(collections) if collections else None
        shown = ", ".join(self.collections) if self.collections else "all collections"
        self.setText(f"Searching: {shown}")

    def _fill(self) -> None:
        """The collections as they are now (they may have been created or deleted since the last look)."""
        menu = self.menu()
        menu.clear()
        every = menu.addAction("All collections", lambda: self.choose(None))
        every.setCheckable(True)
        every.setChecked(self.collections is None)
        menu.addSeparator()
        for collection in self.engine.collections():
            action = menu.addAction(collection.name)
            action.setCheckable(True)
            action.setChecked(self.collections is not None and collection.name in self.collections)
            action.toggled.connect(lambda on, name=collection.name: self.tick(name, on))

    def tick(self, name: str, on: bool) -> None:
        chosen = set(self.collections or [])
        if on:
            chosen.add(name)
        else:
            chosen.discard(name)
        self.choose(sorted(chosen) or None)  # nothing ticked: every collection, as before any choice

    def choose(self, collections: list[str] | None) -> None:
        self.set_collections(collections)
        self.chosen.emit(self.collections)


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
    conversation_started = Signal(int)  # the panel's new conversation was saved with its first question
    busy_changed = Signal(bool)
    answered = Signal(object)  # the engine's Answer, once it is shown (when its conversation is) and saved
    error = Signal(str)

    def __init__(self, engine: Engine, pool: WorkerPool, ops: OpRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.pool = pool
        self.ops = ops
        self.conversation_id: int | None = None
        self.has_documents: Callable[[], bool] = lambda: True  # the main window says if the library has anything
        self._messages: list[Message] = []
        self._run: AnswerRun | None = None  # the answer on screen being prepared
        self.last_run: AnswerRun | None = None  # the latest answer of this conversation, kept once done (its tokens)
        self._finishing: set[AnswerRun] = set()  # stopped answers of conversations no longer shown, being saved
        self._render = Throttle(self._render_stream, 100, self)
        self.evidence = EvidenceCard(Thumbnails(pool, self, passwords=engine.passwords), self)
        ops.failed.connect(self.error)
        ops.crashed.connect(pool.crashed)

        self.title = ElidedLabel("New chat", bold=True)  # one line, whatever the title holds
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

        self.collection_choice = CollectionChoice(engine)
        self.collection_choice.chosen.connect(self._collections_chosen)
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
        scope = QHBoxLayout()
        scope.addWidget(self.collection_choice)
        scope.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.scroller, 1)
        layout.addLayout(scope)
        layout.addLayout(row)

    # -- conversations --------------------------------------------------------------------------

    def new_chat(self) -> None:
        self._leave_answer()
        self.conversation_id = None
        self._messages = []
        self._clear()
        self.title.setText("New chat")
        self.collection_choice.set_collections(None)
        self.prompt.setFocus()

    def load_conversation(self, conversation_id: int) -> None:
        if conversation_id == self.conversation_id:
            return
        self._leave_answer()
        conversation = self.engine.conversations().get(conversation_id)
        if conversation is None:
            self.new_chat()
            return
        self._show_conversation(conversation)

    def _show_conversation(self, conversation: Conversation) -> None:
        self.conversation_id = conversation.id
        self._messages = self.engine.conversations().messages(conversation.id)
        self._clear()
        self.title.setText(conversation.title)
        self.collection_choice.set_collections(conversation.collections)
        last_answer = max((i for i, m in enumerate(self._messages) if m.role == "assistant"), default=-1)
        for index, message in enumerate(self._messages):
            if message.role == "user":
                self._add(QuestionView(message.content))
            else:
                view = self._new_answer_view()
                view.finish(message.content, message.citations, notice=message.notice, stopped=message.stopped,
                            can_retry=index == last_answer, sources_forgotten=message.sources_forgotten,
                            closest=message.closest)
                self._add(view)

    def set_title(self, title: str) -> None:
        self.title.setText(title)

    def answer_views(self) -> list[AnswerView]:
        return [w for w in self.thread_widget.findChildren(AnswerView)]

    def scope(self) -> list[str] | None:
        """The collections a question searches now: the conversation's choice among those that still exist
        (all of them when none of its choice is left)."""
        chosen = self.collection_choice.collections
        if chosen is None:
            return None
        existing = {c.name for c in self.engine.collections()}
        return [name for name in chosen if name in existing] or None

    def _collections_chosen(self, collections: list[str] | None) -> None:
        conversation_id = self.conversation_id
        if conversation_id is None:
            return  # a new chat: the choice is saved with the conversation at its first question
        conversations = self.engine.conversations()
        self.ops.run(lambda: conversations.set_collections(conversation_id, collections),
                     Changes(conversation_id=conversation_id), name="choose collections")

    # -- asking ---------------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self._run is not None

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
        self._add(QuestionView(question))
        run = self._start(question, self._history())
        run.conversation_id = self.conversation_id
        conversations, collections = self.engine.conversations(), self.collection_choice.collections
        title = " ".join(question.split())  # the whole question on one line: lists and labels shorten it to fit
        if self.conversation_id is None:
            self.set_title(title)

        def save_question() -> Message:  # on the op thread
            if run.conversation_id is None:
                run.conversation_id = conversations.create(title, collections).id
            return conversations.add_message(run.conversation_id, "user", question)

        self.ops.run(save_question, lambda _saved: Changes(conversation_list=True, conversation_id=run.conversation_id),
                     on_done=lambda saved: self._question_saved(run, saved), name="save question")

    def _question_saved(self, run: AnswerRun, message: Message) -> None:
        if run.view is None or run.conversation_id is None:
            return  # the panel moved on before the question was written
        self._messages.append(message)
        if self.conversation_id is None:
            self.conversation_id = run.conversation_id
            self.conversation_started.emit(run.conversation_id)

    def retry(self) -> None:
        """Ask the last question again, replacing its answer."""
        conversation_id = self.conversation_id
        if self.is_busy() or conversation_id is None or not self._messages:
            return
        if self._messages[-1].role == "assistant":
            conversations = self.engine.conversations()
            self.ops.run(lambda: conversations.delete_last_answer(conversation_id),
                         Changes(conversation_id=conversation_id), name="delete the last answer")
            self._messages.pop()
            views = self.answer_views()
            if views:
                views[-1].deleteLater()
                views[-1].setParent(None)
        if not self._messages or self._messages[-1].role != "user":
            return
        run = self._start(self._messages[-1].content, self._history(self._messages[:-1]))
        run.conversation_id = conversation_id

    def stop(self) -> None:
        run = self._run
        if run is not None and run.worker is not None:
            run.worker.stop()
            if run.view is not None:
                run.view.set_status("Stopping…")

    def _leave_answer(self) -> None:
        """The panel is about to show another conversation: the answer on screen stops and is saved, as stopped,
        in its own conversation; nothing of it reaches the screen any more."""
        self.last_run = None
        run = self._run
        if run is None:
            return
        self.stop()
        run.view = None
        self._run = None
        self._finishing.add(run)
        self._set_busy(False)

    def _history(self, messages: list[Message] | None = None) -> list[tuple[str, str]]:
        messages = self._messages if messages is None else messages
        pairs: list[tuple[str, str]] = []
        for first, second in itertools.pairwise(messages):
            if first.role == "user" and second.role == "assistant":
                pairs.append((first.content, second.content))
        return pairs[-HISTORY_TURNS:]

    def _start(self, question: str, history: list[tuple[str, str]]) -> AnswerRun:
        view = self._new_answer_view()
        view.set_status("Thinking…")
        view.set_streaming_text("")
        self._add(view)
        for older in self.answer_views():
            if older is not view:
                older.retry_button.hide()
        run = self._run = self.last_run = AnswerRun(question, history, view)
        engine, scope = self.engine, self.scope()

        def answer(stop: threading.Event) -> Iterator[AnswerEvent]:
            return engine.ask(question, history, collection=scope, stop=stop)

        run.worker = self.pool.start(answer, name="answer", on_item=lambda event: self._on_event(run, event),
                                     on_error=lambda message: self._on_error(run, message),
                                     on_finished=lambda: self._on_finished(run))
        self._set_busy(True)
        return run

    def _on_event(self, run: AnswerRun, event: AnswerEvent) -> None:
        if event.kind == "done" and event.answer is not None:
            self._on_done(run, event.answer)
            return
        view = run.view
        if view is None:
            return  # an answer the panel no longer shows
        if event.kind == "status":
            view.set_status(event.text)
            passages = event.extra.get("passages")
            if isinstance(passages, list):
                view.set_reading([p for p in passages if isinstance(p, Hit)])
        elif event.kind == "token":
            now = time.monotonic()
            if not run.pieces:
                run.first_token_at = now
            run.pieces.append(event.text)
            elapsed = now - run.first_token_at
            rate = f" · {(len(run.pieces) - 1) / elapsed:.0f} tokens/s" if elapsed > 0.5 else ""
            view.set_status(f"Writing…{rate}")
            self._render()

    def _on_done(self, run: AnswerRun, answer: Answer) -> None:
        closest = [] if answer.stopped else [  # a decline's nearest passages; a stopped fragment has none
            Citation(n, h.path, h.page, h.start, h.end, h.text, h.title, h.section, h.document_id)
            for n, h in enumerate(answer.closest, start=1)]
        if run.view is not None:
            self._render.flush()
            run.view.finish(answer.text, answer.citations, notice=answer.notice, stopped=answer.stopped,
                            closest=closest, left_out=answer.left_out)
        if not answer.text.strip():
            self.answered.emit(answer)
            return
        conversations = self.engine.conversations()

        def save_answer() -> Message:  # on the op thread, after the question's save (ops run in order)
            if run.conversation_id is None:
                raise HushdocsError("the answer was not saved: saving its question failed")
            return conversations.add_message(run.conversation_id, "assistant", answer.text, answer.citations,
                                             stopped=answer.stopped, notice=answer.notice, closest=closest)

        run.saving = True
        self.ops.run(save_answer, lambda _saved: Changes(conversation_list=True, conversation_id=run.conversation_id),
                     on_done=lambda saved: self._answer_saved(run, answer, saved),
                     on_finished=lambda: self._saving_finished(run), name="save answer")

    def _saving_finished(self, run: AnswerRun) -> None:
        run.saving = False
        self._end(run)

    def _answer_saved(self, run: AnswerRun, answer: Answer, message: Message) -> None:
        if run.view is not None:
            self._messages.append(message)
        elif run.conversation_id is not None and run.conversation_id == self.conversation_id and not self.is_busy():
            # The person came back to this conversation before its stopped answer was written: show it now.
            conversation = self.engine.conversations().get(run.conversation_id)
            if conversation is not None:
                self._show_conversation(conversation)
        self.answered.emit(answer)

    def _render_stream(self) -> None:
        run = self._run
        if run is not None and run.view is not None and not run.view.finished:
            run.view.set_streaming_text("".join(run.pieces))

    def _on_error(self, run: AnswerRun, message: str) -> None:
        if run.view is not None:
            run.view.show_error(message)
            self.error.emit(message)

    def _on_finished(self, run: AnswerRun) -> None:
        run.worker = None
        if run.view is not None and not run.view.finished:  # crashed: the crash dialog says why
            run.view.show_error("something went wrong; see the error report.")
        self._end(run)

    def _end(self, run: AnswerRun) -> None:
        """The run is over once its worker has finished and its answer is written."""
        if run.worker is not None or run.saving:
            return
        self._finishing.discard(run)
        if run is self._run:
            self._run = None
            self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.send_button.setVisible(not busy)
        self.stop_button.setVisible(busy)
        self.busy_changed.emit(busy)

    # -- layout ---------------------------------------------------------------------------------

    def _new_answer_view(self) -> AnswerView:
        view = AnswerView()
        view.citation_clicked.connect(self.citation_clicked)
        view.evidence_requested.connect(lambda citation: self.evidence.show_citation(citation, QCursor.pos()))
        view.evidence_left.connect(self.evidence.hide_soon)
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
