"""Optical character recognition of scanned pages and photos, every word with its box.

PP-OCRv6 tiny (text-line detection, then recognition of each line) runs on onnxruntime through rapidocr's
pipeline. The model files are the catalogue's (``OCR_MODELS``), checked against their sha256 when first
loaded; rapidocr is handed their paths, so it never looks for, or downloads, models of its own.

A page is rendered at ``OCR_DPI`` and read; its words come back in the page's own coordinates (points, in
the tuple PyMuPDF's ``get_text("words")`` gives), so the viewer marks a quote on a scanned page exactly as
on a text page. The models are deterministic: the same page rendered again reads the same words in the
same boxes, which is how the viewer gets them (``page_words``) without the index storing boxes.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import model_files
from engine.errors import ChecksumError, HushdocsError
from engine.models_catalogue import OCR_CHARACTERS, OCR_DETECTOR, OCR_RECOGNISER, CatalogueModel

OCR_DPI = 200  # resolution a page is read at; body text is then about 25 pixels high
MAX_SIDE_PX = 2000  # rapidocr shrinks larger images to this before reading: rendering bigger is wasted work
STRAY_GLYPHS = 20  # a text layer with fewer letters and digits than this is no text layer (a scan's stray marks)
TIME_LIMIT_S = 45.0  # OCR of one document stops here (within the parser's 60 s); the pages left are reported
PARAGRAPH_GAP = 0.7  # a gap over this many line heights between two lines starts a new paragraph
_LETTERS = re.compile(r"[^\W_]", re.UNICODE)

Word = tuple[float, float, float, float, str, int, int]  # x0, y0, x1, y1, text, block, line (as PyMuPDF's)
Box = tuple[float, float, float, float]


class OcrUnavailableError(HushdocsError):
    """The OCR models are not installed, or a file does not match its checksum."""


class OcrFailedError(Exception):
    """The OCR models failed on one image (onnxruntime or OpenCV raised)."""


@dataclass
class OcrBlock:
    """A paragraph OCR read: its lines joined by newlines, and the box around them (page points)."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass
class OcrPage:
    blocks: list[OcrBlock] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)


@dataclass
class _Line:
    box: Box
    words: list[tuple[str, Box]]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def verified_path(model: CatalogueModel) -> Path:
    """The installed file of ``model``, its sha256 checked; OcrUnavailableError when missing or altered."""
    try:
        path = model_files.find(model)
    except HushdocsError as error:
        raise OcrUnavailableError(str(error)) from error
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != model.sha256:
        raise OcrUnavailableError(str(ChecksumError(
            f"{path} does not match its checksum (expected {model.sha256[:16]}…): reinstall it with "
            "`python main.py models install`")))
    return path


class OcrEngine:
    """rapidocr with the catalogue's models; one page at a time (calls from several threads take turns)."""

    def __init__(self, threads: int = 0) -> None:
        from rapidocr import ModelType, RapidOCR  # noqa: PLC0415 - heavy (OpenCV, onnxruntime), loaded on first use

        threads = threads or max(1, min(4, (os.cpu_count() or 2) // 2))
        self.threads = threads
        self._lock = threading.Lock()
        self._ocr = RapidOCR(params={
            "Global.log_level": "error",
            "Global.use_cls": False,  # pages are upright; the direction classifier would be a third model
            "Global.max_side_len": MAX_SIDE_PX,
            "Det.model_path": str(verified_path(OCR_DETECTOR)),
            "Det.model_type": ModelType.TINY,
            "Rec.model_path": str(verified_path(OCR_RECOGNISER)),
            "Rec.model_type": ModelType.TINY,
            "Rec.rec_keys_path": str(verified_path(OCR_CHARACTERS)),
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })

    def read_lines(self, image: Any) -> list[_Line]:
        """The text lines of ``image`` (an RGB array, height × width × 3), with their words, in pixels."""
        bgr = image[:, :, ::-1].copy()
        try:
            with self._lock:
                result = self._ocr(bgr, return_word_box=True)
        except Exception as error:  # whatever the models raise costs this image only
            raise OcrFailedError(f"{type(error).__name__}: {error}") from error
        from rapidocr.utils.output import RapidOCROutput  # noqa: PLC0415 - loaded with the engine

        if not isinstance(result, RapidOCROutput) or not result.txts or result.boxes is None:
            return []  # nothing detected, or lines found but none read
        lines: list[_Line] = []
        pending: list[Any] = list(result.word_results or ())  # aligned with the lines, less any line without word boxes
        for box, recognised in zip(result.boxes, result.txts, strict=True):
            line_box = _bounds([(float(x), float(y)) for x, y in box])
            text = _plain(str(recognised))
            boxed: list[tuple[str, Box]] = []
            if pending and _plain(" ".join(str(w[0]) for w in pending[0])).split() == text.split():
                boxed = [(_plain(str(word)), _bounds([(float(x), float(y)) for x, y in corners]))
                         for word, _score, corners in pending.pop(0) if str(word).strip()]
            if not boxed:
                boxed = _split_evenly(text, line_box)
            if boxed:
                lines.append(_Line(line_box, boxed))
        return lines


def _plain(text: str) -> str:
    """The recogniser's text in ordinary characters: its full-width "：" and "（" as ":" and "(" (NFKC)."""
    return unicodedata.normalize("NFKC", text)


def _bounds(points: list[tuple[float, float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _split_evenly(text: str, box: Box) -> list[tuple[str, Box]]:
    """Words of a line with boxes in proportion to their characters (a fallback for odd recogniser output)."""
    x0, y0, x1, y1 = box
    per_char = (x1 - x0) / max(len(text), 1)
    words = []
    for match in re.finditer(r"\S+", text):
        words.append((match.group(), (x0 + match.start() * per_char, y0, x0 + match.end() * per_char, y1)))
    return words


_engine: OcrEngine | None = None
_engine_lock = threading.Lock()


def engine() -> OcrEngine:
    """This process's OCR engine, loaded (and its models verified) on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = OcrEngine()
        return _engine


def text_layer_letters(page: Any) -> int:
    """How many letters and digits the page's text layer holds."""
    return len(_LETTERS.findall(page.get_text("text")))


def needs_ocr(page: Any) -> bool:
    """A page to read by OCR: it shows an image and its text layer is empty or a few stray glyphs."""
    return text_layer_letters(page) < STRAY_GLYPHS and bool(page.get_image_info())


def render_for_ocr(page: Any) -> tuple[Any, float]:
    """The page as an RGB array at ``OCR_DPI`` (its long side at most ``MAX_SIDE_PX``), and pixels per point."""
    import numpy as np  # noqa: PLC0415 - loaded with the OCR engine
    import pymupdf  # noqa: PLC0415 - heavy, loaded on first use

    scale = min(OCR_DPI / 72, MAX_SIDE_PX / max(page.rect.width, page.rect.height, 1.0))
    pixmap = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), colorspace=pymupdf.csRGB, alpha=False)
    rows = np.frombuffer(pixmap.samples, dtype=np.uint8).reshape(pixmap.height, pixmap.stride)
    return rows[:, : pixmap.width * 3].reshape(pixmap.height, pixmap.width, 3), scale


def read_image(image: Any, scale: float = 1.0, ocr: OcrEngine | None = None) -> OcrPage:
    """Read an RGB array; boxes are divided by ``scale`` (pixels per point) to land in page coordinates."""
    lines = (ocr or engine()).read_lines(image)

    def points(box: Box) -> Box:
        return (box[0] / scale, box[1] / scale, box[2] / scale, box[3] / scale)

    page = OcrPage()
    for block_number, paragraph in enumerate(_paragraphs(lines)):
        x0, y0, x1, y1 = points(_bounds([(b[0], b[1]) for b in (ln.box for ln in paragraph)]
                                        + [(b[2], b[3]) for b in (ln.box for ln in paragraph)]))
        page.blocks.append(OcrBlock(x0, y0, x1, y1, "\n".join(" ".join(w for w, _ in ln.words) for ln in paragraph)))
        for line_number, line in enumerate(paragraph):
            for word, box in line.words:
                page.words.append((*points(box), word, block_number, line_number))
    return page


def _paragraphs(lines: list[_Line]) -> list[list[_Line]]:
    """Lines grouped into paragraphs: a line continues the paragraph whose last line it sits just under and
    overlaps horizontally. Columns stay apart (their lines do not overlap), so reading order can find them."""
    paragraphs: list[list[_Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1], ln.box[0])):
        x0, y0, x1, _ = line.box
        for paragraph in reversed(paragraphs):
            last = paragraph[-1].box
            overlap = min(x1, last[2]) - max(x0, last[0])
            gap = y0 - last[3]
            if overlap > 0.3 * min(x1 - x0, last[2] - last[0]) and gap <= PARAGRAPH_GAP * max(line.height, 1.0):
                paragraph.append(line)
                break
        else:
            paragraphs.append([line])
    return paragraphs


def read_page(page: Any) -> OcrPage:
    """OCR of a PyMuPDF page: its paragraphs and words in the page's coordinates."""
    image, scale = render_for_ocr(page)
    return read_image(image, scale)


# The viewer asks for the same page again as the person turns back and forth: keep the last few readings,
# keyed by the rendered pixels themselves (a changed file renders differently).
_READINGS: OrderedDict[bytes, OcrPage] = OrderedDict()
_KEPT_READINGS = 8


def page_words(page: Any) -> list[Word]:
    """The words of a page read by OCR, in page coordinates: the same words and boxes the index read."""
    image, scale = render_for_ocr(page)
    key = hashlib.blake2b(image.tobytes(), digest_size=16).digest()
    reading = _READINGS.get(key)
    if reading is None:
        reading = read_image(image, scale)
        _READINGS[key] = reading
        while len(_READINGS) > _KEPT_READINGS:
            _READINGS.popitem(last=False)
    _READINGS.move_to_end(key)
    return reading.words
