"""Hushdocs: private, offline question answering over your own documents.

`python main.py` opens the app; `python main.py COMMAND ...` is the command-line tool over the same
engine (`python main.py --help` lists the commands).
"""

from __future__ import annotations

import multiprocessing
import sys

from engine.offline import seal_environment, seal_network

seal_environment()  # before anything imports onnxruntime, tokenizers or llama.cpp (see engine/offline.py)
seal_network()  # no internet socket from Python code but to the answer server that Settings may name


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # the frozen app re-enters here in its parser child process
    args = sys.argv[1:] if argv is None else argv
    if not args:
        from ui.launch import launch_gui  # noqa: PLC0415 - Qt only for the window

        return launch_gui()
    from cli.app import run  # noqa: PLC0415 - the command line never loads Qt

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
