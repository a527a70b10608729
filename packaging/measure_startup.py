"""Time the packaged app from launch to its window on screen, under Xvfb; optionally save a screenshot.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python packaging/measure_startup.py --runs 5 \
        --screenshot /tmp/hushdocs-shots/frozen.png

Polls the X server (`xwininfo -root -tree`) for a mapped top-level window titled "Hushdocs" every 10 ms,
so it needs no cooperation from the app. The first run is the cold one; the others show the warm-cache
start. Needs x11-utils (xwininfo) and, for the screenshot, ImageMagick (import).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXECUTABLE = ROOT / "dist" / "Hushdocs" / "Hushdocs"


def window_mapped(title: str) -> bool:
    tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True, check=False).stdout
    return any(f'"{title}"' in line for line in tree.splitlines())


def one_run(executable: Path, home: Path, timeout_s: float, screenshot: Path | None) -> float:
    env = {**os.environ, "HUSHDOCS_HOME": str(home)}
    env.pop("QT_QPA_PLATFORM", None)
    started = time.monotonic()
    process = subprocess.Popen([str(executable)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not window_mapped("Hushdocs"):
            if process.poll() is not None:
                raise SystemExit(f"the app exited with {process.returncode} before its window appeared")
            if time.monotonic() - started > timeout_s:
                raise SystemExit(f"no window after {timeout_s} s")
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        if screenshot is not None:
            time.sleep(2.0)  # let the first paint and any start-up work settle
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["import", "-window", "root", str(screenshot)], check=True)
        return elapsed
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--executable", type=Path, default=EXECUTABLE)
    parser.add_argument("--screenshot", type=Path, help="save a screenshot of the screen after the last run's window")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") or not shutil.which("xwininfo"):
        raise SystemExit("run under an X server (xvfb-run) with xwininfo (x11-utils) installed")
    times = []
    with tempfile.TemporaryDirectory(prefix="hushdocs-startup-") as scratch:
        for run in range(args.runs):
            shot = args.screenshot if run == args.runs - 1 else None
            elapsed = one_run(args.executable, Path(scratch) / "home", args.timeout, shot)
            times.append(elapsed)
            print(f"run {run + 1}: window shown after {elapsed:.2f} s", flush=True)
    warm = times[1:] or times
    print(f"first run {times[0]:.2f} s; warm median {statistics.median(warm):.2f} s (min {min(warm):.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
