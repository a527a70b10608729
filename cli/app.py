"""The command-line entry: argparse over the engine's commands."""

from __future__ import annotations

import argparse
import os
import sys

from cli import commands_ask, commands_embedder, commands_library, commands_migrate, commands_models
from engine.api import DATABASE_ENV, HushdocsError, __version__, install_crash_logging, setup_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hushdocs",
        description="Hushdocs: private, offline question answering over your own documents. "
                    "Run with no command to open the app.",
    )
    parser.add_argument("--version", action="version", version=f"Hushdocs {__version__}")
    parser.add_argument("--database", metavar="URL", help="use the team library at this PostgreSQL URL instead of "
                                                          f"this data home's own (as {DATABASE_ENV} does)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands_library.add_parsers(sub)
    commands_ask.add_parsers(sub)
    commands_models.add_parsers(sub)
    commands_migrate.add_parsers(sub)
    commands_embedder.add_parsers(sub)
    return parser


def run(argv: list[str]) -> int:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            # A file name with undecodable bytes prints as \udcff (valid JSON, which gives the name back), never
            # as raw bytes that make the output invalid UTF-8, never as a crash.
            stream.reconfigure(errors="backslashreplace")
    setup_logging(console=True)
    install_crash_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    if args.database:
        os.environ[DATABASE_ENV] = args.database  # every engine this command opens uses the team library
    try:
        return int(args.handler(args))
    except HushdocsError as exc:
        print(f"hushdocs: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hushdocs: interrupted", file=sys.stderr)
        return 130
