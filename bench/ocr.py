"""OCR speed and accuracy on real PDF pages rasterised here, against their own text layer.

    .venv/bin/python -m bench.ocr                       # 10 pages, 150 and 300 dpi, 2 threads
    .venv/bin/python -m bench.ocr --pages 4 --dpi 200 --threads 4

Pages come from the Debian manuals installed under /usr/share/doc (why3-doc-pdf, c++-annotations-pdf,
live-manual-pdf, ...): the first PDF of each package, in name order, gives two pages with at least 800
letters of text, spread over the document, until there are ``--pages``. Each page is rendered at each dpi and read by
Hushdocs' OCR (the catalogue's PP-OCRv6 tiny models, the app's own reading order) and compared with
``page_text`` of the same page: character accuracy is difflib's ratio over the two texts with all
whitespace removed and both sides NFKC-normalised (2·matches / (reference + OCR characters)), so both
missed and invented characters count. Pages per second is wall time of the OCR call alone (rendering
excluded), on ``--threads`` onnxruntime threads.
"""

from __future__ import annotations

import argparse
import difflib
import re
import time
import unicodedata
from pathlib import Path
from typing import Any

from engine.offline import seal_environment

DOCS = Path("/usr/share/doc")
MIN_LETTERS = 800
PAGES_PER_MANUAL = 2
_SPACE = re.compile(r"\s+")


def pick_pages(count: int) -> list[tuple[Path, int]]:
    """(pdf, 0-based page) pairs: two text-rich pages spread through one manual of each Debian package."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    manuals: dict[str, Path] = {}
    for path in sorted(DOCS.rglob("*.pdf")):
        manuals.setdefault(path.relative_to(DOCS).parts[0], path)  # the package's first PDF in name order
    chosen: list[tuple[Path, int]] = []
    for path in manuals.values():
        with pymupdf.open(path) as document:
            step = max(1, document.page_count // 7)
            rich = [n for n in range(step, document.page_count, step)
                    if sum(ch.isalnum() for ch in document[n].get_text()) >= MIN_LETTERS]
        chosen.extend((path, n) for n in rich[:PAGES_PER_MANUAL])
        if len(chosen) >= count:
            break
    return chosen[:count]


def comparable(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def accuracy(reference: str, read: str) -> float:
    return difflib.SequenceMatcher(None, comparable(reference), comparable(read), autojunk=False).ratio()


def raster(page: Any, dpi: int) -> tuple[Any, float]:
    import numpy as np
    import pymupdf

    scale = dpi / 72
    pixmap = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), colorspace=pymupdf.csRGB, alpha=False)
    rows = np.frombuffer(pixmap.samples, dtype=np.uint8).reshape(pixmap.height, pixmap.stride)
    return rows[:, : pixmap.width * 3].reshape(pixmap.height, pixmap.width, 3), scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--dpi", type=int, nargs="+", default=[150, 300])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    seal_environment()
    import pymupdf

    from engine.ingest.loaders import ocr, pdf
    from engine.models_catalogue import OCR_RECOGNISER

    engine = ocr.OcrEngine(threads=args.threads)
    pages = pick_pages(args.pages)
    results: dict[int, list[tuple[float, float]]] = {dpi: [] for dpi in args.dpi}
    print(f"{len(pages)} pages, {args.threads} threads, models: {OCR_RECOGNISER.title}")
    print(f"{'document':40} {'page':>5} " + " ".join(f"{str(d) + ' dpi s':>10} {'acc':>6}" for d in args.dpi))
    for path, number in pages:
        with pymupdf.open(path) as document:
            page = document[number]
            reference = pdf.page_text(page)
            cells = []
            for dpi in args.dpi:
                image, scale = raster(page, dpi)
                started = time.perf_counter()
                reading = ocr.read_image(image, scale, engine)
                seconds = time.perf_counter() - started
                score = accuracy(reference, pdf.ocr_text(reading))
                results[dpi].append((seconds, score))
                cells.append(f"{seconds:10.2f} {score:6.3f}")
        print(f"{path.name[:40]:40} {number + 1:5d} " + " ".join(cells), flush=True)
    print()
    for dpi, rows in results.items():
        total = sum(s for s, _ in rows)
        mean = sum(a for _, a in rows) / len(rows)
        worst = min(a for _, a in rows)
        print(f"{dpi} dpi: {len(rows) / total:.2f} pages/s, character accuracy mean {mean:.3f}, worst {worst:.3f}")


if __name__ == "__main__":
    main()
