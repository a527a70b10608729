"""Optical character recognition of scanned pages and photos, every word with its box.

PP-OCRv6 (tiny text-line detection, then tiny recognition of each line, the small recogniser for lines in
Japanese or Chinese) runs on onnxruntime through rapidocr's parts. The model files are the catalogue's
(``OCR_MODELS``), checked against their sha256 when first loaded; rapidocr is handed their paths, so it never
looks for, or downloads, models of its own.

A page is rendered at ``OCR_DPI`` and read; its words come back in the page's own coordinates (points, in
the tuple PyMuPDF's ``get_text("words")`` gives), so the viewer marks a quote on a scanned page exactly as
on a text page. The models are deterministic: the same page rendered again reads the same words in the
same boxes, which is how the viewer gets them (``page_words``) for its highlights and its find without the
index storing boxes.
"""

from __future__ import annotations

import bisect
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
from engine.models_catalogue import (
    OCR_CHARACTERS,
    OCR_DETECTOR,
    OCR_RECOGNISER,
    OCR_WIDE_RECOGNISER,
    CatalogueModel,
)

OCR_DPI = 200  # resolution a page is read at; body text is then about 25 pixels high
MAX_SIDE_PX = 4000  # a larger image is shrunk to this before reading
DETECTION_SIDE_PX = 1280  # lines are found on the page shrunk to this: as accurate as 1600 and full size (bench/ocr.py)
MIN_LINE_SCORE = 0.5  # a line read with less confidence than this, by both recognisers, is dropped
STRAY_GLYPHS = 20  # a text layer with fewer letters and digits than this is no text layer (a scan's stray marks)
TIME_LIMIT_S = 45.0  # OCR of one document stops here (within the parser's 60 s); the pages left are reported
PARAGRAPH_GAP = 0.7  # a gap over this many line heights between two lines starts a new paragraph
_LETTERS = re.compile(r"[^\W_]", re.UNICODE)
# Ideographs, kana, hangul, CJK punctuation: a line the tiny recogniser reads with any is read again by the small one
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")

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
    """rapidocr's parts with the catalogue's models; one page at a time (calls from several threads take turns).

    The tiny detector finds the lines on the page shrunk to ``DETECTION_SIDE_PX``; each line is cut from the
    image as given and read by the tiny recogniser. It knows Latin scripts, Greek and Chinese but no Japanese
    kana, so a line it reads as CJK, or doubts, is read again by the small recogniser (five times slower).
    """

    def __init__(self, threads: int = 0) -> None:
        from rapidocr import ModelType, RapidOCR  # noqa: PLC0415 - heavy (OpenCV, onnxruntime), loaded on first use

        threads = threads or max(1, min(4, (os.cpu_count() or 2) // 2))
        self.threads = threads
        self._lock = threading.Lock()
        common = {
            "Global.log_level": "error",
            "Global.use_cls": False,  # pages are upright; the direction classifier would be a third model
            "Global.max_side_len": MAX_SIDE_PX,
            "Global.return_word_box": True,
            "Det.model_path": str(verified_path(OCR_DETECTOR)),
            "Det.model_type": ModelType.TINY,
            "Det.limit_type": "max",
            "Det.limit_side_len": DETECTION_SIDE_PX,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        # rapidocr loads each model on its first use: the small recogniser only once a page needs it
        self._tiny = RapidOCR(params={
            **common,
            "Rec.model_path": str(verified_path(OCR_RECOGNISER)),
            "Rec.model_type": ModelType.TINY,
            "Rec.rec_keys_path": str(verified_path(OCR_CHARACTERS)),
        })
        self._small = RapidOCR(params={
            **common,
            "Rec.model_path": str(verified_path(OCR_WIDE_RECOGNISER)),  # its alphabet is inside the model
            "Rec.model_type": ModelType.SMALL,
        })

    def read_lines(self, image: Any) -> list[_Line]:
        """The text lines of ``image`` (an RGB array, height × width × 3), with their words, in pixels."""
        bgr = image[:, :, ::-1].copy()
        try:
            with self._lock:
                return self._read(bgr)
        except Exception as error:  # whatever the models raise costs this image only
            raise OcrFailedError(f"{type(error).__name__}: {error}") from error

    def _read(self, bgr: Any) -> list[_Line]:
        from rapidocr.cal_rec_boxes import CalRecBoxes  # noqa: PLC0415 - loaded with the engine
        from rapidocr.ch_ppocr_rec import TextRecOutput  # noqa: PLC0415
        from rapidocr.main import RapidOCRError  # noqa: PLC0415
        from rapidocr.utils.process_img import map_boxes_to_original, map_img_to_original  # noqa: PLC0415

        image, steps = self._tiny.preprocess_img(bgr)
        try:
            crops, detected = self._tiny.detect_and_crop(image, steps)
        except RapidOCRError:
            return []  # no text line on the page
        boxes: Any = map_boxes_to_original(detected.boxes, steps, *bgr.shape[:2])  # type: ignore[arg-type]
        read = self._tiny.recognize_txt(crops)
        texts, scores, pieces = list(read.txts or ()), list(read.scores), list(read.word_results)
        doubtful = [i for i, text in enumerate(texts) if scores[i] < MIN_LINE_SCORE or _CJK.search(text)]
        if doubtful:
            again = self._small.recognize_txt([crops[i] for i in doubtful])
            for i, text, score, words in zip(doubtful, again.txts or (), again.scores, again.word_results, strict=True):
                texts[i], scores[i], pieces[i] = text, score, words
        kept = [i for i, text in enumerate(texts) if scores[i] >= MIN_LINE_SCORE and text.strip() and crops[i].size]
        if not kept:
            return []
        ratio = steps["preprocess"]
        full_size_crops = map_img_to_original([crops[i] for i in kept], ratio["ratio_h"], ratio["ratio_w"])
        kept_lines = TextRecOutput(scores=[scores[i] for i in kept])
        kept_lines.txts = tuple(texts[i] for i in kept)  # type: ignore[assignment]  # rapidocr types one-tuples
        kept_lines.word_results = tuple(pieces[i] for i in kept)  # type: ignore[assignment]
        boxed: Any = CalRecBoxes()(full_size_crops, boxes[kept], kept_lines).word_results
        lines: list[_Line] = []
        for i, box, line_pieces in zip(kept, boxes[kept], boxed, strict=True):
            line_box = _bounds([(float(x), float(y)) for x, y in box])
            boxed_pieces = [(_plain(str(piece)), _bounds([(float(x), float(y)) for x, y in corners]))
                            for piece, _score, corners in line_pieces if corners is not None and str(piece).strip()]
            lines.append(_Line(line_box, _words(_plain(texts[i]), boxed_pieces, line_box)))
        return lines


def _plain(text: str) -> str:
    """The recogniser's text in ordinary characters: its full-width "：" and "（" as ":" and "(" (NFKC)."""
    return unicodedata.normalize("NFKC", text)


def _bounds(points: list[tuple[float, float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _words(text: str, pieces: list[tuple[str, Box]], line_box: Box) -> list[tuple[str, Box]]:
    """The words of a line as its text spaces them, each with its box: the recogniser's pieces (words, or single
    characters where the line holds CJK) that no space parts are joined, as PyMuPDF's words are. Pieces that do
    not spell out the text give way to boxes in proportion to the characters."""
    spans: list[tuple[int, int, Box]] = []  # start and end in ``text``, box
    cursor = 0
    for piece, piece_box in pieces:
        at = text.find(piece, cursor)
        if at < 0:
            return _split_evenly(text, line_box)
        cursor = at + len(piece)
        if spans and not any(ch.isspace() for ch in text[spans[-1][1]:at]):
            start, _, box = spans.pop()
            spans.append((start, cursor, (min(box[0], piece_box[0]), min(box[1], piece_box[1]),
                                          max(box[2], piece_box[2]), max(box[3], piece_box[3]))))
        else:
            spans.append((at, cursor, piece_box))
    words = [(text[start:end], box) for start, end, box in spans]
    if "".join(word for word, _ in words) != "".join(text.split()):
        return _split_evenly(text, line_box)
    return words


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


def find_in_words(words: list[Word], query: str) -> list[Box]:
    """Where ``query`` occurs in a page's OCR words, as MuPDF's ``search_for`` finds it in a text layer:
    case-insensitive, inside words or across them (any whitespace in the query matching any break), one box per
    line a match covers. Part of a word is boxed in proportion to its characters."""
    parts = query.split()
    if not parts or not words:
        return []
    pattern = re.compile(r"\s+".join(re.escape(part) for part in parts), re.IGNORECASE)
    starts: list[int] = []
    offset = 0
    for word in words:
        starts.append(offset)
        offset += len(word[4]) + 1
    joined = " ".join(word[4] for word in words)
    boxes: list[Box] = []
    for match in pattern.finditer(joined):
        lines: dict[tuple[int, int], list[float]] = {}
        index = bisect.bisect_right(starts, match.start()) - 1
        while index < len(words) and starts[index] < match.end():
            x0, y0, x1, y1, text, block, line = words[index]
            first = max(match.start() - starts[index], 0)
            last = min(match.end() - starts[index], len(text))
            if first < last:
                per_char = (x1 - x0) / len(text)
                piece = [x0 + first * per_char, y0, x0 + last * per_char, y1]
                box = lines.setdefault((block, line), piece)
                box[:] = [min(box[0], piece[0]), min(box[1], y0), max(box[2], piece[2]), max(box[3], y1)]
            index += 1
        boxes.extend((b[0], b[1], b[2], b[3]) for b in lines.values())
    return boxes


def read_page(page: Any) -> OcrPage:
    """OCR of a PyMuPDF page: its paragraphs and words in the page's coordinates."""
    image, scale = render_for_ocr(page)
    return read_image(image, scale)


# The viewer asks for the same page again as the person turns back and forth, and its find reads every scanned
# page: keep the readings of a long scan, keyed by the rendered pixels themselves (a changed file renders
# differently). A reading is a page's words, tens of kilobytes.
_READINGS: OrderedDict[bytes, OcrPage] = OrderedDict()
_KEPT_READINGS = 500


def _reading_key(image: Any) -> bytes:
    return hashlib.blake2b(image.tobytes(), digest_size=16).digest()


def has_reading(page: Any) -> bool:
    """Whether ``page_words`` has this page's words already (no OCR to run)."""
    return _reading_key(render_for_ocr(page)[0]) in _READINGS


def page_words(page: Any) -> list[Word]:
    """The words of a page read by OCR, in page coordinates: the same words and boxes the index read."""
    image, scale = render_for_ocr(page)
    key = _reading_key(image)
    reading = _READINGS.get(key)
    if reading is None:
        reading = read_image(image, scale)
        _READINGS[key] = reading
        while len(_READINGS) > _KEPT_READINGS:
            _READINGS.popitem(last=False)
    _READINGS.move_to_end(key)
    return reading.words
