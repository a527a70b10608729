"""Look and feel from the system: palette roles only (light and dark schemes both work), plus the icon."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
ICON_PATH = RESOURCES / "hushdocs.svg"


def app_icon() -> QIcon:
    icon = QIcon(str(ICON_PATH)) if ICON_PATH.is_file() else QIcon()
    return icon


def palette() -> QPalette:
    return QGuiApplication.palette()


def secondary_text() -> QColor:
    return palette().color(QPalette.ColorRole.PlaceholderText)


def highlight(alpha: int = 90) -> QColor:
    """The selection colour, translucent: marks a cited passage over a page image or text."""
    colour = QColor(palette().color(QPalette.ColorRole.Highlight))
    colour.setAlpha(alpha)
    return colour


def passage_background() -> QColor:
    """A passage highlight that keeps the text readable in both schemes (blend of base and highlight)."""
    base = palette().color(QPalette.ColorRole.Base)
    mark = palette().color(QPalette.ColorRole.Highlight)
    mix = 0.35
    return QColor(int(base.red() * (1 - mix) + mark.red() * mix), int(base.green() * (1 - mix) + mark.green() * mix),
                  int(base.blue() * (1 - mix) + mark.blue() * mix))


def css_colour(colour: QColor) -> str:
    return colour.name(QColor.NameFormat.HexRgb)
