"""A render child that misbehaves like MuPDF on a hostile file (it runs in the viewer's render process)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from engine.render_child import serve


def hang_on_poison(operation: str, path: str, *args: Any, **kwargs: Any) -> Any:
    """Never returns for a file named like 'poison-hang*', dies on 'poison-crash*', is slow on 'slow*';
    shows the rest normally."""
    if Path(path).name.startswith("poison-hang"):
        time.sleep(3600)
    if Path(path).name.startswith("slow"):
        time.sleep(0.5)  # still running when the next view is asked for
    if Path(path).name.startswith("poison-crash"):
        os.abort()  # like a segfault inside MuPDF
    return serve(operation, path, *args, **kwargs)
