"""The QApplication and the main window (the full library/chat UI grows from here)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Hushdocs")
        self.resize(1100, 720)
        self.setCentralWidget(QLabel("Hushdocs: drop folders of documents here and ask questions."))


def run_application() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Hushdocs")
    window = MainWindow()
    window.show()
    return int(app.exec())
