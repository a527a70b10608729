"""The render child's entry point: ``serve`` runs one of the viewer's views of a document, by name.

Imported only in the child (``engine/render_process.py`` names it); MuPDF is imported here, before the
child reports ready, so the first view's time limit is not spent loading it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymupdf  # noqa: F401 - loaded at the child's start (see above)

from engine.page_render import find_pages, load_text, render_page

_OPERATIONS: dict[str, Callable[..., Any]] = {"page": render_page, "text": load_text, "find": find_pages}


def serve(operation: str, *args: Any, **kwargs: Any) -> Any:
    return _OPERATIONS[operation](*args, **kwargs)
