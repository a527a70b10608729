"""Make the app icon as PNG (and ICO where Qt can write it) for the bundle and the desktop entry.

Uses ``resources/hushdocs.svg`` when the GUI has one (rendered with QtSvg), else ``resources/hushdocs.png``
as is, else draws a simple stand-in with QPainter (a document page with a speech bubble). Run with the
project's Python: ``python packaging/make_icon.py OUT_DIR``; prints the PNG path.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[1]
SIZE = 256


def _draw_fallback(size: int) -> QImage:
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    unit = size / 16
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#2f4f6f"))
    painter.drawRoundedRect(QRectF(0.5 * unit, 0.5 * unit, 15 * unit, 15 * unit), 3 * unit, 3 * unit)
    page = QPainterPath()  # a page with a folded corner
    page.moveTo(3.5 * unit, 2.5 * unit)
    page.lineTo(9.5 * unit, 2.5 * unit)
    page.lineTo(12 * unit, 5 * unit)
    page.lineTo(12 * unit, 13.5 * unit)
    page.lineTo(3.5 * unit, 13.5 * unit)
    page.closeSubpath()
    painter.setBrush(QColor("#f4f1e8"))
    painter.drawPath(page)
    painter.setPen(QPen(QColor("#9aa7b4"), 0.6 * unit, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    for row in range(4):
        y = (6 + 1.6 * row) * unit
        painter.drawLine(QPointF(5 * unit, y), QPointF((10.5 - (row == 3) * 3) * unit, y))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#e8a33d"))  # the answer: a speech bubble over the corner
    painter.drawEllipse(QRectF(8.5 * unit, 8.5 * unit, 6.5 * unit, 5 * unit))
    painter.drawPolygon(QPolygonF([QPointF(10 * unit, 12.5 * unit), QPointF(9 * unit, 15 * unit),
                                   QPointF(12 * unit, 13 * unit)]))
    painter.end()
    return image


def _render_svg(svg: Path, size: int) -> QImage:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def make_icon(out_dir: Path) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage, QImageWriter

    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "hushdocs.png"
    svg, given_png = ROOT / "resources" / "hushdocs.svg", ROOT / "resources" / "hushdocs.png"
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    image: QImage
    if svg.is_file():
        image = _render_svg(svg, SIZE)
    elif given_png.is_file():
        shutil.copyfile(given_png, png)
        image = QImage(str(png))
    else:
        image = _draw_fallback(SIZE)
    generated = svg.is_file() or not given_png.is_file()
    if generated and not image.save(str(png)):
        raise OSError(f"could not write {png}")
    if b"ico" in [bytes(f.data()) for f in QImageWriter.supportedImageFormats()]:
        image.scaled(64, 64).save(str(out_dir / "hushdocs.ico"))
    del app
    return png


if __name__ == "__main__":
    print(make_icon(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "icon"))
