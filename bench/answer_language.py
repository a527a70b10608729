"""Answers in the question's language: German and French questions over the German and French Debian Reference
(and English ones answered only there), asked through `main.py ask --json -`, the reply's language scored by
stop words.

    flock /tmp/hushdocs-bench.lock .venv/bin/python -m bench.answer_language
    flock /tmp/hushdocs-bench.lock .venv/bin/python -m bench.answer_language --baseline-prompt HEAD~1
    flock /tmp/hushdocs-bench.lock .venv/bin/python -m bench.answer_language --baseline-prompt HEAD --prompt-file new.py

The documents and questions are bench.multilingual's (its German, French and cross-lingual English questions, each
with the phrase of the translation that answers it; ``apt-get install debian-reference-de debian-reference-fr``).
A fresh temporary home indexes the manuals with `main.py index`, switches to the search model ``--embedder``
(`main.py embedder --use`, default the multilingual one a German or French reader would choose), and one
`main.py ask --json -` process answers every question with the default chat model, at temperature 0 so that two
runs compare.

``--baseline-prompt REV`` also asks every question with the prompt module of git revision REV
(engine/generation/prompt.py as it was there, the rest of the code as it is now), in the same run, over the
same index: the prompt before and after a change, side by side. ``--prompt-file FILE`` measures a candidate
prompt module instead of the checkout's, without changing the checkout (others may be measuring with it).

Scores, per question language:
- language: the reply's words counted against short lists of German, French and English function words (articles,
  pronouns, conjunctions, auxiliaries, none shared by two of the lists); the reply is in the language with the
  most, when that is at least ``MIN_STOP_WORDS`` and more than any other, else "unclear" (a bare "CP437" or
  "iptables-save(8)" has none). The reply scored is the answer shown, with the sentences the app left out
  (unsupported) added, so a reply the checks declined is still scored when it had sentences; a reply the model
  itself declined leaves nothing to score ("no reply").
- right: answered (grounded) with a citation whose passage holds the question's answer phrase;
- declined: not answered (the app's checks or the model declined).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.answers import align, cli_env, feed, index, json_objects, write_settings
from bench.multilingual import PROBES, Probe, holds_any, translated_manuals

REPO = Path(__file__).resolve().parents[1]
PROMPT_MODULE = "engine/generation/prompt.py"
CODE = ("main.py", "engine", "cli", "models", "ui")  # what `main.py ask` runs
ASKED_IN = ("de", "fr", "en")  # the English questions are answered only in the German or French text
MIN_STOP_WORDS = 2
_STOP_WORD_LISTS = {  # function words; no word is in two lists
    "de": """der die das den dem und ist nicht ein eine einen einem einer mit von zu im auf für sich auch es wird
             werden kann oder als bei wenn wie sie aus nach über zum zur nur noch sind dass durch diese dieser ihr
             wir ich""",
    "fr": """le la les et est un une du de pas pour dans sur avec qui que ne se au aux par ce cette sont il elle ou
             mais plus peut être en l d qu vous nous leur été""",
    "en": """the and is are of to for with that this it be by on not can or from which you your at was were will
             has have its these those they we""",
}
STOP_WORDS = {language: frozenset(words.split()) for language, words in _STOP_WORD_LISTS.items()}
_WORD = re.compile(r"[^\W\d_]+")
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


def reply_language(text: str) -> str:
    """"de", "fr", "en" or "unclear", by the function words of ``text``."""
    words = _WORD.findall(_MARKER.sub(" ", text).lower())
    counts = {language: sum(1 for w in words if w in listed) for language, listed in STOP_WORDS.items()}
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)
    (best, most), (_, second) = ranked[0], ranked[1]
    return best if most >= MIN_STOP_WORDS and most > second else "unclear"


def scored_reply(reply: dict[str, Any]) -> str:
    """The reply's own text: the answer shown (none for a decline) and the sentences the checks left out."""
    shown = str(reply.get("answer", "")) if reply.get("grounded") else ""
    return " ".join([shown, *map(str, reply.get("left_out", []))]).strip()


@dataclass
class Scored:
    probe: Probe
    language: str  # of the reply, or "no reply"
    right: bool
    declined: bool
    text: str


def score(probe: Probe, reply: dict[str, Any]) -> Scored:
    text = scored_reply(reply)
    holds = holds_any(probe.answers)
    grounded = bool(reply.get("grounded"))
    right = grounded and any(holds(str(c.get("text", ""))) for c in reply.get("citations", []))
    return Scored(probe, reply_language(text) if text else "no reply", right, not grounded, text)


def prompt_source(revision: str) -> str:
    shown = subprocess.run(["git", "show", f"{revision}:{PROMPT_MODULE}"], cwd=REPO, capture_output=True, text=True,
                           check=False)
    if shown.returncode != 0:
        raise SystemExit(f"git show {revision}:{PROMPT_MODULE} failed: {shown.stderr.strip()}")
    return shown.stdout


def code_tree(folder: Path, prompt: str | None) -> Path:
    """The code `main.py ask` runs: this checkout, or a copy of it with ``prompt`` as its prompt module."""
    if prompt is None:
        return REPO
    folder.mkdir(parents=True)
    for name in CODE:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, folder / name)
    (folder / PROMPT_MODULE).write_text(prompt, "utf-8")
    return folder


def cli(tree: Path, env: dict[str, str], log: Path, *args: str) -> str:
    with log.open("a") as errors:
        done = subprocess.run([sys.executable, str(tree / "main.py"), *args], cwd=tree, env=env,
                              stdout=subprocess.PIPE, stderr=errors, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"`main.py {' '.join(args)}` failed ({done.returncode}); see {log}")
    return done.stdout


def ask_all(tree: Path, questions: list[str], env: dict[str, str], log: Path) -> list[dict[str, Any]]:
    """One `ask --json -` process of ``tree``: every question on its standard input, one JSON answer per line."""
    with log.open("a") as errors:
        process = subprocess.Popen([sys.executable, str(tree / "main.py"), "ask", "--json", "-"], cwd=tree, env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
                                   bufsize=1)
        assert process.stdin is not None and process.stdout is not None
        feeder = threading.Thread(target=feed, args=(process.stdin, questions), daemon=True)
        feeder.start()
        replies = list(json_objects(process.stdout))
        code = process.wait()
        feeder.join()
    if code != 0 or len(replies) != len(questions):
        raise SystemExit(f"`main.py ask --json -` exited with {code}, {len(replies)} answers of {len(questions)}; "
                         f"see {log}")
    return align(questions, replies)


def table(label: str, scored: Sequence[Scored]) -> list[str]:
    lines = []
    for language in ASKED_IN:
        mine = [s for s in scored if s.probe.asked_in == language]
        counts = Counter(s.language for s in mine)
        n = len(mine)
        others = ", ".join(f"{other} {counts[other]}" for other in STOP_WORDS if other != language and counts[other])
        lines.append(" | ".join([
            label, f"{language} ({n})", f"{counts[language] / n:.2f}", others or "-", f"{counts['unclear'] / n:.2f}",
            f"{counts['no reply'] / n:.2f}", f"{sum(s.right for s in mine) / n:.2f}",
            f"{sum(s.declined for s in mine) / n:.2f}"]))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-prompt", metavar="REV", help="also ask with the prompt module of this revision")
    parser.add_argument("--prompt-file", type=Path, metavar="FILE",
                        help="measure this prompt module instead of the checkout's")
    parser.add_argument("--embedder", default="e5-small", help="search model (`main.py embedder` names)")
    parser.add_argument("--show", action="store_true", help="print every reply with its scores")
    args = parser.parse_args(argv)

    from engine import paths

    work = Path(tempfile.mkdtemp(prefix="hushdocs-bench-language-"))
    manuals = translated_manuals(work / "manuals")
    probes = [p for p in PROBES if p.asked_in in ASKED_IN]
    home = work / "home"
    home.mkdir()
    write_settings(home, {"temperature": 0.0})
    env = cli_env(home, os.environ.get(paths.MODELS_ENV, str(paths.models_dir())))
    log = home / "cli-stderr.log"
    report, index_s = index(manuals, env, log)
    cli(REPO, env, log, "embedder", "--use", args.embedder)
    print(f"Debian Reference ({len(manuals)} files, {report.get('chunks')} chunks, indexed in {index_s:.0f} s), "
          f"search model {args.embedder}; {len(probes)} questions "
          f"({', '.join(f'{sum(p.asked_in == lang for p in probes)} {lang}' for lang in ASKED_IN)}), "
          f"default chat model at temperature 0, on {os.cpu_count()} CPUs.", flush=True)

    runs: dict[str, str | None] = {}
    if args.baseline_prompt is not None:
        runs[f"prompt of {args.baseline_prompt}"] = prompt_source(args.baseline_prompt)
    if args.prompt_file is not None:
        runs[str(args.prompt_file)] = args.prompt_file.read_text("utf-8")
    else:
        runs["checkout"] = None
    rows: list[str] = []
    for label, prompt in runs.items():
        tree = code_tree(work / f"code-{len(rows)}", prompt)
        started = time.perf_counter()
        replies = ask_all(tree, [p.question for p in probes], env, log)
        seconds = time.perf_counter() - started
        scored = [score(p, r) for p, r in zip(probes, replies, strict=True)]
        rows += table(label, scored)
        print(f"{label}: {len(probes)} answers in {seconds:.0f} s", flush=True)
        if args.show:
            for s in scored:
                print(f"  [{s.probe.asked_in}->{s.language}{' right' if s.right else ''}"
                      f"{' declined' if s.declined else ''}] {s.probe.question}\n      {s.text[:200]!r}")
    print("prompt | asked in | in its language | in another (replies) | unclear | no reply | right | declined")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
