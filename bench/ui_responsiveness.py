"""How responsive the window stays: the longest event-loop stall while indexing and while answering,
cold start to the window shown, and to the first answer being possible (chat model loaded).

    HUSHDOCS_MODELS=/path/to/models .venv/bin/python bench/ui_responsiveness.py [--files 200] [--model NAME]

A 10 ms QTimer probe records the longest gap between its ticks (goal: under 100 ms). Everything runs in
a temporary HUSHDOCS_HOME; without a display the offscreen platform is used.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _display_env() -> None:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_documents(folder: Path, count: int) -> None:
    """Half PDFs (3 pages each), half Markdown, with varied text so chunks are not all reused."""
    import pymupdf

    words = ["tide", "harbour", "ferry", "lantern", "gull", "bakery", "quince", "meadow", "ledger", "engine",
             "orchard", "granite", "river", "compass", "winter", "signal", "copper", "willow"]
    for i in range(count):
        def sentence(k: int, i: int = i) -> str:
            picked = [words[(i * 7 + k * 3 + j) % len(words)] for j in range(12)]
            return f"Record {i}.{k}: the {' '.join(picked)} were noted on day {i * 13 + k}. "
        if i % 2 == 0:
            document = pymupdf.open()
            for page_number in range(3):
                page = document.new_page()
                page.insert_textbox(pymupdf.Rect(56, 56, 540, 790),
                                    "".join(sentence(page_number * 20 + k) for k in range(20)), fontsize=10)
            document.save(folder / f"doc-{i:03d}.pdf")
            document.close()
        else:
            body = "\n\n".join(f"## Part {k}\n\n" + sentence(k) * 3 for k in range(12))
            (folder / f"note-{i:03d}.md").write_text(f"# Note {i}\n\n{body}\n", "utf-8")


class StallProbe:
    """Ticks every 10 ms on the UI thread; the longest gap between ticks is the longest stall."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.max_gap = 0.0
        self.gaps_over_100 = 0

    def start(self) -> None:
        self.last = time.perf_counter()
        self.max_gap = 0.0
        self.gaps_over_100 = 0
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.max_gap * 1000

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self.last
        self.last = now
        self.max_gap = max(self.max_gap, gap)
        if gap > 0.1:
            self.gaps_over_100 += 1


def wait_for(signal: object, timeout_s: float) -> list[object]:
    """Run the event loop until ``signal`` fires (a bench script may spin its own loop)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    received: list[object] = []
    fired: list[bool] = []

    def got(*args: object) -> None:
        received.extend(args)
        fired.append(True)
        loop.quit()

    signal.connect(got)  # type: ignore[attr-defined]
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(got)  # type: ignore[attr-defined]
    if not fired:
        raise TimeoutError(f"no signal within {timeout_s} s")
    return received


def cold_start_child(model: str) -> int:
    """Run in a fresh process: print when the window is on screen and when the chat model is ready."""
    _display_env()
    from PySide6.QtCore import QTimer

    from engine.api import Engine
    from engine.settings import Settings
    from ui.application import create_application
    from ui.main_window import MainWindow

    app = create_application()
    window = MainWindow(Engine(Settings(chat_model=model) if model else None))
    window.model_ready.connect(lambda: (print(f"model {time.perf_counter() - START:.3f}", flush=True), app.quit()))
    window.model_failed.connect(lambda message: (print(f"failed {message}", flush=True), app.quit()))
    window.show()
    QTimer.singleShot(0, lambda: print(f"shown {time.perf_counter() - START:.3f}", flush=True))
    app.exec()
    window.shutdown()
    return 0


def cold_start(model: str) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, "--cold-start-child", "--model", model],
                               stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    shown = ready = float("nan")
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("shown"):
            shown = time.perf_counter() - started
        elif line.startswith("model"):
            ready = time.perf_counter() - started
        elif line.startswith("failed"):
            print(line.strip())
    process.wait(timeout=300)
    return shown, ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--model", default="", help="chat model (catalogue name or .gguf); default: the setting")
    parser.add_argument("--question", default="What was noted about the ferry and the lantern?")
    parser.add_argument("--cold-start-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_start_child:
        return cold_start_child(args.model)

    home = tempfile.mkdtemp(prefix="hushdocs-bench-")
    os.environ["HUSHDOCS_HOME"] = home
    _display_env()
    shown, ready = cold_start(args.model)
    print(f"cold start: window shown after {shown:.2f} s (goal < 2 s); "
          f"first answer possible (chat model loaded) after {ready:.2f} s")

    from engine.api import Engine
    from engine.settings import Settings
    from ui.application import create_application
    from ui.main_window import MainWindow

    app = create_application()
    folder = Path(home) / "documents"
    folder.mkdir()
    make_documents(folder, args.files)
    engine = Engine(Settings(chat_model=args.model) if args.model else Settings.load())
    window = MainWindow(engine, watch=False)
    window.model_failed.connect(lambda message: print(f"the chat model did not load: {message}"))
    window.resize(1280, 800)
    window.show()
    if not engine.generator_loaded():
        wait_for(window.model_ready, 300)
    probe = StallProbe()

    probe.start()
    started = time.perf_counter()
    window.add_paths([str(folder)])
    last = wait_for(window.indexing.job_finished, 1800)[0]
    elapsed = time.perf_counter() - started
    stall = probe.stop()
    print(f"indexing {args.files} files ({getattr(last, 'chunks_done', 0)} chunks) took {elapsed:.1f} s; "
          f"longest event-loop stall {stall:.0f} ms, stalls over 100 ms: {probe.gaps_over_100} (goal: none)")

    tokens: list[str] = []
    window.chat.answered.connect(lambda _answer: None)
    probe.start()
    started = time.perf_counter()
    window.chat.ask(args.question)
    answer = wait_for(window.chat.answered, 900)[0]
    elapsed = time.perf_counter() - started
    pieces = len(window.chat.last_run.pieces) if window.chat.last_run else 0
    stall = probe.stop()
    timings = getattr(answer, "timings", {})
    tokens = getattr(answer, "text", "").split()
    first_s = timings.get("first_token_ms", 0) / 1000
    print(f"answering took {elapsed:.1f} s (first token {first_s:.1f} s, {pieces} tokens, "
          f"{pieces / max(elapsed - first_s, 1e-3):.1f} tokens/s, {len(tokens)} words); "
          f"longest event-loop stall {stall:.0f} ms, "
          f"stalls over 100 ms: {probe.gaps_over_100} (goal: none)")
    window.shutdown()
    app.processEvents()

    # The same question without a window: what the UI costs the answer (2 cores: every busy ms counts).
    headless = Engine(Settings(chat_model=args.model) if args.model else Settings.load())
    headless.generator()
    started = time.perf_counter()
    events = list(headless.ask(args.question))
    elapsed_headless = time.perf_counter() - started
    count = sum(1 for e in events if e.kind == "token")
    final = events[-1].answer
    first = final.timings.get("first_token_ms", 0) / 1000 if final else 0.0
    print(f"same question without the window: {elapsed_headless:.1f} s (first token {first:.1f} s, {count} tokens, "
          f"{count / max(elapsed_headless - first, 1e-3):.1f} tokens/s)")
    headless.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
