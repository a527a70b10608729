"""Peak memory and CPU time of this process and of its parser child, sampled while indexing runs."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil


class RssSampler:
    """Peak RSS of this process and of its parser child (a spawned multiprocessing child), sampled together."""

    def __init__(self, interval_s: float = 0.05) -> None:
        import psutil

        self.interval_s = interval_s
        self._process = psutil.Process()
        self._known: dict[int, psutil.Process | None] = {}
        self.peak_main = 0
        self.peak_child = 0
        self.peak_sum = 0
        self.samples = 0
        self.parser_pids: set[int] = set()
        self.parser_cpu_s: dict[int, float] = {}  # last seen user + system seconds of every parser child
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _parser_children(self) -> Iterator[psutil.Process]:
        import psutil

        for child in self._process.children(recursive=True):
            if child.pid not in self._known:
                try:
                    cmdline = " ".join(child.cmdline())
                except psutil.Error:
                    continue
                self._known[child.pid] = child if "spawn_main" in cmdline else None
            known = self._known[child.pid]
            if known is not None:
                yield known

    def sample(self) -> None:
        import psutil

        main = self._process.memory_info().rss
        children = 0
        for child in self._parser_children():
            try:
                children += child.memory_info().rss
                cpu = child.cpu_times()
                self.parser_cpu_s[child.pid] = cpu.user + cpu.system
                self.parser_pids.add(child.pid)
            except psutil.Error:
                pass
        self.peak_main = max(self.peak_main, main)
        self.peak_child = max(self.peak_child, children)
        self.peak_sum = max(self.peak_sum, main + children)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> RssSampler:
        """Sample until the block ends (a sampler may be entered again: the peaks carry on)."""
        self.sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def parser_cpu(self) -> float:
        return sum(self.parser_cpu_s.values())


def cpu_seconds() -> float:
    """User + system seconds of this process so far (every thread)."""
    times = os.times()
    return times.user + times.system
