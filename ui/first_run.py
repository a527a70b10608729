"""The one screen shown when models are missing: what is wrong and the command that fixes it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from ui.theme import app_icon


class FirstRunPage(QWidget):
    retry_requested = Signal()
    settings_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignCenter)
        how = QLabel(
            "<h2>Hushdocs needs its models</h2>"
            "<p>The models that read your documents and write the answers are not installed yet. "
            "In a terminal, in the Hushdocs folder, run:</p>"
            "<pre>python3 bootstrap.py</pre><p>or, when Hushdocs is already set up:</p>"
            "<pre>python main.py models install</pre>"
            "<p>Then press <b>Check again</b>. Nothing is downloaded while the app runs.</p>")
        how.setWordWrap(True)
        how.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        how.setAlignment(Qt.AlignmentFlag.AlignCenter)
        again = QPushButton("Check again")
        again.clicked.connect(self.retry_requested)
        settings = QPushButton("Settings…")
        settings.clicked.connect(self.settings_requested)
        column = QWidget()
        column.setMaximumWidth(640)  # long lines are hard to read; keep the text in a column
        inner = QVBoxLayout(column)
        inner.addWidget(icon)
        inner.addWidget(how)
        inner.addWidget(self.reason)
        inner.addWidget(again, 0, Qt.AlignmentFlag.AlignHCenter)
        inner.addWidget(settings, 0, Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(column, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def set_reason(self, text: str) -> None:
        self.reason.setText(f"<i>{text}</i>" if text else "")
