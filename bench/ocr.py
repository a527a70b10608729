"""OCR speed and accuracy on real PDF pages rasterised here, against their own text layer.

    .venv/bin/python -m bench.ocr                       # 16 pages, 150 and 300 dpi, 2 threads
    .venv/bin/python -m bench.ocr --pages 4 --dpi 200 --threads 4 --diffs 3

Pages come from Debian manuals under /usr/share/doc, in English, French and Japanese (``apt-get install
auto-multiple-choice-doc-pdf c++-annotations-pdf libtasn1-doc shared-mime-info why3-doc-pdf``): each of
``MANUALS`` gives two pages with at least 800 letters of text, spread over the document, until there are
``--pages``. Each page is rendered at each dpi and read by Hushdocs' OCR (the catalogue's models, the app's
own reading order) and compared with its text layer, laid in the same reading order (the blocks as PyMuPDF
gives them, without the table rows the loader rewrites): character accuracy is difflib's ratio over the two
texts with all whitespace removed and both sides NFKC-normalised (2·matches / (reference + OCR characters)),
so both missed and invented characters count; the same ratio over the characters in any order tells misreading
from a different reading order. Pages per second is wall time of the OCR call alone (rendering
excluded), on ``--threads`` onnxruntime threads. ``--diffs N`` prints what differs on the N worst pages.
"""

from __future__ import annotations

import argparse
import difflib
import re
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from engine.offline import seal_environment

DOCS = Path("/usr/share/doc")
MANUALS = (
    "auto-multiple-choice/auto-multiple-choice.en.pdf",
    "auto-multiple-choice/auto-multiple-choice.fr.pdf",
    "auto-multiple-choice/auto-multiple-choice.ja.pdf",
    "c++-annotations/cplusplus.pdf",
    "libtasn1-doc/libtasn1.pdf",
    "shared-mime-info/shared-mime-info-spec.pdf",
    "why3-doc-pdf/manual.pdf",
    "auto-multiple-choice/latex/automultiplechoice.pdf",
)
MIN_LETTERS = 800
PAGES_PER_MANUAL = 2
_SPACE = re.compile(r"\s+")


def pick_pages(count: int) -> list[tuple[Path, int]]:
    """(pdf, 0-based page) pairs: two text-rich pages spread through each of ``MANUALS`` that is installed."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    chosen: list[tuple[Path, int]] = []
    for path in (DOCS / name for name in MANUALS):
        if not path.exists():
            print(f"(not installed: {path})")
            continue
        with pymupdf.open(path) as document:
            step = max(1, document.page_count // 7)
            rich = [n for n in range(step, document.page_count, step)
                    if sum(ch.isalnum() for ch in document[n].get_text()) >= MIN_LETTERS]
        chosen.extend((path, n) for n in rich[:PAGES_PER_MANUAL])
        if len(chosen) >= count:
            break
    return chosen[:count]


def text_layer(page: Any) -> str:
    """The page's text layer in the reading order OCR's paragraphs are put in."""
    import pymupdf

    from engine.ingest.loaders import ocr, pdf

    blocks = [ocr.OcrBlock(x0, y0, x1, y1, text)
              for x0, y0, x1, y1, text, _number, kind in page.get_text("blocks", flags=pymupdf.TEXT_MEDIABOX_CLIP)
              if kind == 0 and text.strip()]
    return pdf.ocr_text(ocr.OcrPage(blocks=blocks))


def comparable(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def accuracy(reference: str, read: str) -> float:
    return difflib.SequenceMatcher(None, comparable(reference), comparable(read), autojunk=False).ratio()


def unordered_accuracy(reference: str, read: str) -> float:
    """The same ratio over the two texts' characters in any order: what a different reading order costs above
    (a listing's column of line numbers read as one paragraph) is not counted here, every misread character is."""
    ref, got = Counter(comparable(reference)), Counter(comparable(read))
    return 2 * sum((ref & got).values()) / max(sum(ref.values()) + sum(got.values()), 1)


def differences(reference: str, read: str, context: int = 12) -> list[str]:
    """What OCR read differently, "text layer -> OCR" with a few characters around each."""
    ref, got = comparable(reference), comparable(read)
    matcher = difflib.SequenceMatcher(None, ref, got, autojunk=False)
    return [f"...{ref[max(0, i1 - context):i1]}[{ref[i1:i2]} -> {got[j1:j2]}]{ref[i2:i2 + context]}..."
            for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def raster(page: Any, dpi: int) -> tuple[Any, float]:
    import numpy as np
    import pymupdf

    scale = dpi / 72
    pixmap = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), colorspace=pymupdf.csRGB, alpha=False)
    rows = np.frombuffer(pixmap.samples, dtype=np.uint8).reshape(pixmap.height, pixmap.stride)
    return rows[:, : pixmap.width * 3].reshape(pixmap.height, pixmap.width, 3), scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2 * len(MANUALS))
    parser.add_argument("--dpi", type=int, nargs="+", default=[150, 300])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--diffs", type=int, default=0, help="print what differs on this many of the worst pages")
    args = parser.parse_args()
    seal_environment()
    import pymupdf

    from engine.ingest.loaders import ocr, pdf
    from engine.models_catalogue import OCR_MODELS

    engine = ocr.OcrEngine(threads=args.threads)
    pages = pick_pages(args.pages)
    results: dict[int, list[tuple[float, float, float]]] = {dpi: [] for dpi in args.dpi}
    readings: list[tuple[float, str, str, str]] = []  # accuracy, page's name, text layer, OCR's text
    print(f"{len(pages)} pages, {args.threads} threads, models: {', '.join(m.title for m in OCR_MODELS)}")
    print(f"{'document':40} {'page':>5} " + " ".join(f"{str(d) + ' dpi s':>10} {'acc':>6}" for d in args.dpi))
    for path, number in pages:
        with pymupdf.open(path) as document:
            page = document[number]
            reference = text_layer(page)
            cells = []
            for dpi in args.dpi:
                image, scale = raster(page, dpi)
                started = time.perf_counter()
                reading = ocr.read_image(image, scale, engine)
                seconds = time.perf_counter() - started
                read = pdf.ocr_text(reading)
                score = accuracy(reference, read)
                results[dpi].append((seconds, score, unordered_accuracy(reference, read)))
                readings.append((score, f"{path.name} page {number + 1} at {dpi} dpi", reference, read))
                cells.append(f"{seconds:10.2f} {score:6.3f}")
        print(f"{path.name[:40]:40} {number + 1:5d} " + " ".join(cells), flush=True)
    print()
    for dpi, rows in results.items():
        total = sum(row[0] for row in rows)
        mean, worst = sum(row[1] for row in rows) / len(rows), min(row[1] for row in rows)
        unordered, unordered_worst = sum(row[2] for row in rows) / len(rows), min(row[2] for row in rows)
        print(f"{dpi} dpi: {len(rows) / total:.2f} pages/s, character accuracy mean {mean:.3f}, worst {worst:.3f}; "
              f"in any order mean {unordered:.3f}, worst {unordered_worst:.3f}")
    for score, name, reference, read in sorted(readings)[: args.diffs]:
        print(f"\n{name}: {score:.3f}")
        for difference in differences(reference, read):
            print("  " + difference)

if __name__ == "__main__":
    main()
