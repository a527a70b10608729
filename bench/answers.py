"""Answer benchmark: squad-dev and real manuals side by side, asked through the command line as a user would script it.

    .venv/bin/python -m bench.answers                           # 60+60 squad-dev questions and every realdocs one
    .venv/bin/python -m bench.answers --squad 3 --realdocs 4    # a quick look: 3+3 and 4+4 questions
    .venv/bin/python -m bench.answers --sets realdocs --model ~/models/other.gguf --show-failures 5
    .venv/bin/python -m bench.answers --option passages=5 --option passage_tokens=0 --save run.json

Sets: "squad-dev" (the two SQuAD 2.0 dev articles written as PDFs by bench.squad, several paragraphs a
page) and "realdocs" (bench/realdocs/questions.json over four Debian PDF manuals; see its README). Each set
gets a fresh temporary Hushdocs home; its documents are indexed with `main.py index FILES --json`, then one
`main.py ask --json -` process answers every question, one per line on standard input, one JSON object per
line on standard output (or, with an older CLI without `-`, one `main.py ask QUESTION --json` per question).

`--option KEY=VALUE` (repeatable) writes Settings fields (engine/settings.py) into the temporary home's
settings file, so configurations can be compared; `--model` is a .gguf path (given to `ask --model`) or a
catalogue name (written as the chat_model setting). Nothing else is changed: the app's defaults are what is
measured (temperature 0.1 included; `--option temperature=0.0` for repeatable runs).

Scores: right (short answers: a gold answer inside the reply after SQuAD normalisation, [n] markers removed;
list/procedure/summary questions: the share of key points inside it), wrongly declined and unanswerable
declined (from `grounded`), gold page cited (among answered answerable questions), citations per answer,
supported (answer sentences whose content words are at least 75% in the passages they cite), and the
p50 of the answer's own first-token and total times. Each share is printed with its 95% sampling error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bench import realdocs
from bench.squad import PARAGRAPHS_PER_PAGE, load_squad, sample_questions, squad_normalise, write_article_pdfs

if TYPE_CHECKING:
    from engine.settings import Settings

REPO = Path(__file__).resolve().parents[1]
MAIN = REPO / "main.py"
SETS = ("squad", "realdocs")
SET_TITLES = {"squad": "squad-dev", "realdocs": "realdocs"}
SUPPORT_SHARE = 0.75  # of a sentence's content words that must occur in the passages it cites
MIN_SENTENCE_WORDS = 3
GOALS: dict[str, tuple[str, float]] = {  # metric -> (">=" or "<=", bound)
    "right": (">=", 0.80), "wrongly_declined": ("<=", 0.10), "unanswerable_declined": (">=", 0.70),
    "gold_page_cited": (">=", 0.90), "supported": (">=", 0.95), "first_token_p50_ms": ("<=", 1500.0)}
_STOPWORD_LIST = """
    the and for are but not you your yours with this that these those from into onto over under than then there
    their them they was were been being has have had having does did doing can could should would will shall may
    might must its also such only just very more most some any all each both either neither other which who
    whom whose what when where why how about above below between through during before after again further once
    here out off own same too nor per via use used using one two yes our ours his her hers him she
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)\s*(.*)$", re.DOTALL)
_BULLET = re.compile(r"^\s*(?:[-*•·–]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


# ---------------------------------------------------------------------------------------------- questions

@dataclass
class Item:
    """One question of either set, with what scoring needs."""

    id: str
    question: str
    answerable: bool
    kind: str
    answers: list[str]
    key_points: list[str]
    document: str | None  # the path the app indexed (and cites)
    pages: set[int]  # gold pages of `document`
    accept_cited_text: bool = False  # a cited passage holding a gold answer counts as the gold page


@dataclass
class Corpus:
    name: str
    files: list[Path]
    items: list[Item]


def squad_corpus(folder: Path, sample: int, seed: int) -> Corpus:
    articles, questions = load_squad()
    pdfs = write_article_pdfs(articles, folder)
    pdf_of = {title: str(path.resolve()) for title, path in zip(articles, pdfs, strict=True)}
    answerable, unanswerable = sample_questions(questions, sample, seed)
    items = []
    for q in answerable + unanswerable:
        page = articles[q.article].index(q.context) // PARAGRAPHS_PER_PAGE + 1
        items.append(Item(q.id, q.text, not q.impossible, "fact", [] if q.impossible else q.answers, [],
                          pdf_of[q.article], {page}, accept_cited_text=True))
    return Corpus("squad", pdfs, items)


def realdocs_corpus(folder: Path, sample: int | None, seed: int) -> Corpus:
    questions = realdocs.load_questions()
    missing = realdocs.missing_documents(questions)
    if missing:
        raise SystemExit(realdocs.install_hint(missing))
    indexed = {document: realdocs.materialise(document, folder).resolve()
               for document in realdocs.documents(questions)}
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    if sample is not None:  # the same sample for a seed, as bench.squad.sample_questions draws it
        rng = random.Random(seed)
        answerable = rng.sample(answerable, min(sample, len(answerable)))
        unanswerable = rng.sample(unanswerable, min(sample, len(unanswerable)))
    items = [Item(q.id, q.question, q.answerable, q.kind, q.answers, q.key_points, str(indexed[q.document]),
                  q.gold_pages) for q in answerable + unanswerable]
    return Corpus("realdocs", list(indexed.values()), items)


# ---------------------------------------------------------------------------------------------- running the CLI

@dataclass
class Run:
    """What one set's command-line run produced."""

    replies: list[dict[str, Any]]
    index_report: dict[str, Any]
    index_s: float
    ask_s: float
    mode: str  # "stdin" (one process) or "per-question"
    errors: list[str] = field(default_factory=list)


def cli_env(home: Path, models: str) -> dict[str, str]:
    env = dict(os.environ)
    env["HUSHDOCS_HOME"] = str(home)
    env["HUSHDOCS_MODELS"] = models
    return env


def parse_options(pairs: Sequence[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs as Settings fields, each value converted to the type of that field's default."""
    from engine.settings import Settings

    defaults = Settings()
    known = {f.name for f in fields(Settings)}
    chosen: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise SystemExit(f"--option {pair!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(known))}")
        kind = type(getattr(defaults, key))
        try:
            chosen[key] = kind(value) if kind is not bool else value.lower() in ("1", "true", "yes", "on")
        except ValueError:
            raise SystemExit(f"--option {pair!r}: {key} takes a {kind.__name__}") from None
    return chosen


def write_settings(home: Path, options: dict[str, object]) -> Path:
    """The settings file of ``home`` (found through engine.paths, as the app finds it), holding ``options``."""
    from engine import paths

    previous = os.environ.get(paths.HOME_ENV)
    os.environ[paths.HOME_ENV] = str(home)
    try:
        path = paths.settings_path()
    finally:
        if previous is None:
            os.environ.pop(paths.HOME_ENV, None)
        else:
            os.environ[paths.HOME_ENV] = previous
    path.write_text(json.dumps(options, indent=2), "utf-8")
    return path


def index(files: list[Path], env: dict[str, str], log: Path) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    with log.open("a") as errors:
        done = subprocess.run([sys.executable, str(MAIN), "index", *map(str, files), "--json"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=errors, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`main.py index` failed ({done.returncode}); see {log}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report, elapsed


def ask_reads_stdin(env: dict[str, str]) -> bool:
    """Whether this CLI's `ask` takes ``-`` (questions on standard input, one JSON answer per line)."""
    done = subprocess.run([sys.executable, str(MAIN), "ask", "--help"], cwd=REPO, env=env, capture_output=True,
                          text=True, check=False)
    return "standard input" in done.stdout or "stdin" in done.stdout


def ask_command(model: str | None) -> list[str]:
    return [sys.executable, str(MAIN), "ask", "--json", *(["--model", model] if model else [])]


def json_objects(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    for raw in lines:
        line = raw.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def ask_all_at_once(questions: list[str], model: str | None, env: dict[str, str], log: Path,
                    label: str) -> tuple[list[dict[str, Any]], list[str]]:
    """One `ask --json -` process: every question on its standard input, one JSON answer per line back."""
    with log.open("a") as errors:
        process = subprocess.Popen([*ask_command(model), "-"], cwd=REPO, env=env, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1)
        assert process.stdin is not None and process.stdout is not None
        feeder = threading.Thread(target=feed, args=(process.stdin, questions), daemon=True)
        feeder.start()  # written from a thread: a large question list cannot block on a full pipe
        replies = []
        for reply in json_objects(process.stdout):
            replies.append(reply)
            progress(label, len(replies), len(questions))
        code = process.wait()
        feeder.join()
    problems = [] if code == 0 else [f"`main.py ask --json -` exited with {code}; see {log}"]
    if len(replies) != len(questions):
        problems.append(f"{len(replies)} answers for {len(questions)} questions; see {log}")
    return align(questions, replies), problems


def feed(stdin: TextIO, questions: list[str]) -> None:
    try:
        stdin.write("".join(q + "\n" for q in questions))
        stdin.close()
    except BrokenPipeError:  # the CLI died; its exit status says why
        pass


def align(questions: list[str], replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each question's reply: by the question the reply echoes, else in order; {} where none came."""
    aligned: list[dict[str, Any] | None] = [None] * len(questions)
    for reply in replies:
        open_slots = [i for i in range(len(questions)) if aligned[i] is None]
        free = [i for i in open_slots if questions[i] == reply.get("question")] or open_slots
        if free:
            aligned[free[0]] = reply
    return [reply or {} for reply in aligned]


def ask_one_by_one(questions: list[str], model: str | None, env: dict[str, str], log: Path,
                   label: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The older CLI: one `ask QUESTION --json` process per question (the model is loaded each time)."""
    replies, problems = [], []
    for number, question in enumerate(questions, 1):
        with log.open("a") as errors:
            done = subprocess.run([*ask_command(model), question], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                  stderr=errors, text=True, check=False)
        try:
            replies.append(json.loads(done.stdout))
        except ValueError:
            replies.append({})
            problems.append(f"question {number}: no JSON answer (exit {done.returncode}); see {log}")
        progress(label, number, len(questions))
    return replies, problems


def progress(label: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r  {label}: {done}/{total} answered")
        sys.stderr.flush()
        if done == total:
            sys.stderr.write("\n")


def run_set(corpus: Corpus, home: Path, models: str, model: str | None, stdin_mode: bool) -> Run:
    env = cli_env(home, models)
    log = home / "cli-stderr.log"
    report, index_s = index(corpus.files, env, log)
    print(f"{SET_TITLES[corpus.name]}: indexed {len(corpus.files)} files ({report.get('pages')} pages, "
          f"{report.get('chunks')} chunks) in {index_s:.1f} s; asking {len(corpus.items)} questions", flush=True)
    started = time.perf_counter()
    asker = ask_all_at_once if stdin_mode else ask_one_by_one
    replies, problems = asker([item.question for item in corpus.items], model, env, log, SET_TITLES[corpus.name])
    ask_s = time.perf_counter() - started
    failed = [f for f in report.get("files", []) if f.get("action") == "failed"]
    problems += [f"not indexed: {f.get('path')} ({f.get('status')}: {f.get('reason')})" for f in failed]
    return Run(replies, report, index_s, ask_s, "stdin" if stdin_mode else "per-question",
               problems)


# ---------------------------------------------------------------------------------------------- scoring

@dataclass
class Sentence:
    text: str
    markers: list[int]  # the [n] it cites, after inheriting from the sentence before
    supported: bool
    content_words: int


@dataclass
class Score:
    missing: bool  # the CLI gave no answer (it failed): left out of every metric
    answered: bool  # grounded
    right: float | None  # None for unanswerable questions
    gold_cited: bool | None  # None unless an answerable question was answered
    citations: int
    sentences: list[Sentence]
    app_supported: list[bool]  # the app's own per-sentence verdicts, when its JSON has them
    first_token_ms: float | None
    total_ms: float | None


def strip_markers(text: str) -> str:
    return _MARKER.sub(" ", text)


def contains(reply: str, phrase: str) -> bool:
    """SQuAD's containment check (bench.squad.reply_is_right) for one phrase."""
    return squad_normalise(phrase) in squad_normalise(reply)


def right_share(item: Item, text: str) -> float:
    reply = strip_markers(text)
    if item.key_points:
        return sum(contains(reply, point) for point in item.key_points) / len(item.key_points)
    return float(any(contains(reply, answer) for answer in item.answers))


def same_file(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return a == b or Path(a).resolve() == Path(b).resolve()


def cites_gold(item: Item, citations: list[dict[str, Any]]) -> bool:
    for citation in citations:
        if same_file(citation.get("path"), item.document) and citation.get("page") in item.pages:
            return True
        if item.accept_cited_text and any(contains(str(citation.get("text", "")), a) for a in item.answers):
            return True
    return False


def split_sentences(text: str) -> list[str]:
    """Sentences at [.!?] and a space, and at line breaks and list bullets; markers that open a sentence
    ("... done. [2] Next") belong to the sentence before."""
    pieces: list[str] = []
    for line in text.splitlines():
        for raw in _SENTENCE_END.split(_BULLET.sub("", line)):
            piece = raw
            match = _LEADING_MARKERS.match(raw)
            if match and pieces:
                pieces[-1] += " " + match.group(1).strip()
                piece = match.group(2)
            if piece.strip():
                pieces.append(piece.strip())
    return pieces


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", strip_markers(text).lower()) if len(w) >= 3 and w not in STOPWORDS]


def markers_of(text: str) -> list[int]:
    return [int(n) for group in _MARKER.findall(text) for n in re.split(r"\s*,\s*", group)]


def score_sentences(text: str, citations: list[dict[str, Any]]) -> list[Sentence]:
    passages = {c.get("n"): str(c.get("text", "")) for c in citations}
    everything = sorted(n for n in passages if isinstance(n, int))
    scored, previous = [], everything
    for sentence in split_sentences(text):
        markers = markers_of(sentence) or previous
        previous = markers
        words = content_words(sentence)
        if len(re.findall(r"\w+", strip_markers(sentence))) < MIN_SENTENCE_WORDS or not words:
            continue
        evidence = set(re.findall(r"\w+", " ".join(passages.get(n, "") for n in markers).lower()))
        found = sum(w in evidence for w in words)
        scored.append(Sentence(sentence, markers, found >= SUPPORT_SHARE * len(words), len(words)))
    return scored


def score(item: Item, reply: dict[str, Any]) -> Score:
    if "answer" not in reply:
        return Score(True, False, None, None, 0, [], [], None, None)
    text = str(reply.get("answer", ""))
    citations = [c for c in reply.get("citations", []) if isinstance(c, dict)]
    answered = bool(reply.get("grounded", bool(citations)))
    timings = reply.get("timings", {}) or {}
    app_sentences = reply.get("sentences")
    app_supported = [bool(s.get("supported")) for s in app_sentences if isinstance(s, dict)] \
        if isinstance(app_sentences, list) and answered else []
    return Score(
        missing=False,
        answered=answered,
        right=(right_share(item, text) if answered else 0.0) if item.answerable else None,
        gold_cited=cites_gold(item, citations) if item.answerable and answered else None,
        citations=len(citations),
        sentences=score_sentences(text, citations) if answered else [],
        app_supported=app_supported,
        first_token_ms=timings.get("first_token_ms"),
        total_ms=timings.get("total_ms"))


# ---------------------------------------------------------------------------------------------- metrics

@dataclass
class Share:
    value: float
    n: int

    @property
    def error(self) -> float:
        p = min(max(self.value, 0.0), 1.0)
        return 1.96 * math.sqrt(p * (1 - p) / self.n) if self.n else 0.0

    def __str__(self) -> str:
        return f"{self.value:.3f} ± {self.error:.3f}" if self.n else "-"


def share(values: list[float]) -> Share:
    return Share(sum(values) / len(values) if values else 0.0, len(values))


def median(values: Iterable[float | None]) -> float | None:
    present = [float(v) for v in values if isinstance(v, int | float)]
    return statistics.median(present) if present else None


def metrics(items: list[Item], scores: list[Score], run: Run) -> dict[str, Any]:
    missing = sum(s.missing for s in scores)
    pairs = [(i, s) for i, s in zip(items, scores, strict=True) if not s.missing]
    answerable = [s for i, s in pairs if i.answerable]
    unanswerable = [s for i, s in pairs if not i.answerable]
    scores = [s for _, s in pairs]
    answered = [s for s in scores if s.answered]
    sentences = [sentence for s in answered for sentence in s.sentences]
    app = [verdict for s in answered for verdict in s.app_supported]
    return {
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        "no_answer": missing or None,
        "right": share([s.right or 0.0 for s in answerable]),
        "wrongly_declined": share([float(not s.answered) for s in answerable]),
        "unanswerable_declined": share([float(not s.answered) for s in unanswerable]),
        "gold_page_cited": share([float(bool(s.gold_cited)) for s in answerable if s.answered]),
        "citations_per_answer": statistics.mean(s.citations for s in answered) if answered else None,
        "supported": share([float(s.supported) for s in sentences]),
        "sentences": len(sentences),
        "app_supported": share([float(v) for v in app]) if app else None,
        "first_token_p50_ms": median(s.first_token_ms for s in scores),
        "total_p50_ms": median(s.total_ms for s in scores),
        "index_s": run.index_s, "ask_s": run.ask_s, "wall_s": run.index_s + run.ask_s,
        "pages": run.index_report.get("pages"), "chunks": run.index_report.get("chunks"), "mode": run.mode,
    }


def goal_text(key: str) -> str:
    if key not in GOALS:
        return ""
    sign, bound = GOALS[key]
    return f"{'≥' if sign == '>=' else '≤'} {bound:g}{' ms' if key.endswith('_ms') else ''}"


def meets(key: str, value: object) -> str:
    if key not in GOALS:
        return ""
    number = value.value if isinstance(value, Share) else value
    if not isinstance(number, int | float) or (isinstance(value, Share) and not value.n):
        return ""
    sign, bound = GOALS[key]
    return "" if (number >= bound if sign == ">=" else number <= bound) else " ✗"


def cell(key: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Share):
        return f"{value}{meets(key, value)}"
    if key.endswith("_ms"):
        return f"{value:.0f} ms{meets(key, value)}"
    if key.endswith("_s"):
        return f"{value:.1f} s"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


ROWS = [("answerable / unanswerable", None), ("no answer (CLI failed)", "no_answer"), ("right", "right"),
        ("wrongly declined", "wrongly_declined"), ("unanswerable declined", "unanswerable_declined"),
        ("gold page cited", "gold_page_cited"), ("citations per answer", "citations_per_answer"),
        ("supported", "supported"), ("sentences scored", "sentences"),
        ("supported (app's own check)", "app_supported"), ("first token p50", "first_token_p50_ms"),
        ("whole answer p50", "total_p50_ms"), ("indexing", "index_s"), ("asking", "ask_s"), ("wall time", "wall_s")]


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    width = 24
    lines = [f"{'':<28}" + "".join(f"{SET_TITLES[n]:>{width}}" for n in names) + f"{'goal':>{width - 8}}"]
    for label, key in ROWS:
        if key is None:
            values = [f"{results[n]['answerable']} / {results[n]['unanswerable']}" for n in names]
        else:
            if all(results[n].get(key) is None for n in names):
                continue
            values = [cell(key, results[n].get(key)) for n in names]
        lines.append(f"{label:<28}" + "".join(f"{v:>{width}}" for v in values) + f"{goal_text(key or ''):>{width - 8}}")
    lines.append("shares: mean ± 1.96·sqrt(p(1-p)/n); ✗: misses the goal; 'gold page cited' is over answered "
                 "answerable questions, 'supported' over answer sentences")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- reporting

def show_failures(corpus: Corpus, replies: list[dict[str, Any]], scores: list[Score], limit: int) -> None:
    rows = list(zip(corpus.items, replies, scores, strict=True))
    rows = [r for r in rows if not r[2].missing]
    groups = [("wrong answers", [r for r in rows if r[0].answerable and r[2].answered and (r[2].right or 0) < 1]),
              ("wrongly declined", [r for r in rows if r[0].answerable and not r[2].answered]),
              ("unanswerable, answered", [r for r in rows if not r[0].answerable and r[2].answered])]
    for title, chosen in groups:
        if not chosen or limit <= 0:
            continue
        print(f"\n{SET_TITLES[corpus.name]}: {title} ({len(chosen)}; first {min(limit, len(chosen))})")
        for item, reply, result in chosen[:limit]:
            where = ", ".join(map(str, sorted(item.pages)))
            gold = f"{'; '.join(item.key_points or item.answers[:2])} (page {where})" if item.answerable \
                else "(not in the documents)"
            pages = ", ".join(str(c.get("page")) for c in reply.get("citations", []))
            answer = " ".join(str(reply.get("answer", "")).split())
            print(f"  [{item.id}] {item.question}\n      gold: {gold}"
                  f"\n      got:  {answer[:300]}\n      cited pages: {pages or '-'}"
                  + (f"; right {result.right:.2f}" if result.right is not None else ""))


def jsonable(value: object) -> object:
    if isinstance(value, Share):
        return {"value": round(value.value, 4), "n": value.n, "error": round(value.error, 4)}
    if isinstance(value, set):
        return sorted(value)
    return value


def saved_set(corpus: Corpus, run: Run, scores: list[Score], result: dict[str, Any]) -> dict[str, Any]:
    return {"metrics": {k: jsonable(v) for k, v in result.items()}, "index": run.index_report, "errors": run.errors,
            "questions": [{"item": {k: jsonable(v) for k, v in asdict(item).items()}, "reply": reply,
                           "scores": asdict(result_)}
                          for item, reply, result_ in zip(corpus.items, run.replies, scores, strict=True)]}


# ---------------------------------------------------------------------------------------------- main

def build_corpus(name: str, folder: Path, args: argparse.Namespace) -> Corpus:
    if name == "squad":
        return squad_corpus(folder, args.squad, args.seed)
    return realdocs_corpus(folder, args.realdocs, args.seed)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="squad,realdocs", help="comma-separated: squad, realdocs (default both)")
    parser.add_argument("--squad", type=int, default=60, metavar="N",
                        help="squad-dev: N answerable and N unanswerable questions (default 60)")
    parser.add_argument("--realdocs", type=int, metavar="N",
                        help="realdocs: a sample of N answerable and N unanswerable questions (default: all)")
    parser.add_argument("--seed", type=int, default=7, help="sample seed (default 7)")
    parser.add_argument("--model", metavar="NAME_OR_PATH", help="chat model: a .gguf file or a catalogue name")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a Settings field for the run's settings file (repeatable), e.g. passages=5")
    parser.add_argument("--save", type=Path, metavar="FILE.json", help="write every answer and its scores here")
    parser.add_argument("--show-failures", type=int, default=0, metavar="N",
                        help="print N wrong answers, wrong declines and answered unanswerable questions per set")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes (their path is printed)")
    parser.add_argument("--rescore", type=Path, metavar="SAVED.json",
                        help="ask nothing: score a run saved with --save (made with the checks' declines off: "
                             "--option min_question_coverage=0 --option max_misplaced_coverage=1 --option "
                             "min_answer_confidence=0 --option max_doubt=1) as if the app had declined at the "
                             "settings' decline thresholds (--option to change one)")
    parser.add_argument("--app", type=Path, metavar="DIR",
                        help="the checkout whose main.py answers (default: this one), e.g. a `git worktree` of an "
                             "older commit, to compare before and after with the same questions and scoring")
    parser.add_argument("--work", type=Path, metavar="DIR",
                        help="keep the homes in DIR and reuse them next time: unchanged documents are not indexed "
                             "again, so configurations compare in minutes (the settings file is rewritten each run)")
    args = parser.parse_args(argv)
    args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in args.sets if s not in SETS]
    if unknown or not args.sets:
        parser.error(f"--sets: choose from {', '.join(SETS)}")
    return args


def model_choice(model: str | None, options: dict[str, object]) -> str | None:
    """A .gguf file goes to `ask --model`; anything else is a catalogue name, set as chat_model."""
    if model and Path(model).expanduser().is_file():
        return str(Path(model).expanduser().resolve())
    if model:
        options["chat_model"] = model
    return None


def declined_at(reply: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """``reply`` as the app would give it now with these decline thresholds (the checks it carries decide), and
    with the app's rules on replies that restate the question or only number a list (older runs lack them)."""
    from engine.generation.answer import NOT_FOUND_MESSAGE, decline_reason, words_beyond

    checks = reply.get("checks") or {}
    if not reply.get("grounded"):
        return reply
    question = reply.get("standalone_question") or reply["question"]
    sentences = [s["text"] for s in reply.get("sentences") or []]
    decision = decline_reason(question, sentences, words_beyond(question, sentences),
                              {"quote_coverage": 0.0, "misplaced": 0.0, **checks}, settings)
    if decision is None:
        return reply
    return {**reply, "grounded": False, "citations": [], "sentences": [], "decision": decision,
            "answer": NOT_FOUND_MESSAGE}


def rescore(saved_path: Path, options: dict[str, object]) -> int:
    from engine.settings import Settings

    settings = replace(Settings(), **options)  # type: ignore[arg-type]
    saved = json.loads(saved_path.read_text("utf-8"))
    results: dict[str, dict[str, Any]] = {}
    for name, saved_set in saved["sets"].items():
        items = [Item(**{**q["item"], "pages": set(q["item"]["pages"])}) for q in saved_set["questions"]]
        replies = [declined_at(q["reply"], settings) for q in saved_set["questions"]]
        index = saved_set["metrics"]
        run = Run(replies, {"pages": index.get("pages"), "chunks": index.get("chunks")}, index.get("index_s") or 0.0,
                  index.get("ask_s") or 0.0, str(index.get("mode")))
        results[name] = metrics(items, [score(i, r) for i, r in zip(items, replies, strict=True)], run)
    print(f"{saved_path}, declined below {settings.min_question_coverage} of the question's rarer words in the quotes "
          f"(where the model's doubt is unknown), above {settings.max_misplaced_coverage} of them elsewhere in the "
          f"cited passages with the model less sure than {settings.sure_of_misplaced}, or with the model less sure "
          f"than {settings.min_answer_confidence} of the words that answer, or with more than {settings.max_doubt} "
          f"probability of saying the documents do not answer")
    print(table(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rescore:
        return rescore(args.rescore, parse_options(args.option))
    if args.app:
        global MAIN
        MAIN = args.app.resolve() / "main.py"
    from engine import paths

    models = os.environ.get(paths.MODELS_ENV) or str(paths.models_dir())  # before any HUSHDOCS_HOME is set
    options = parse_options(args.option)
    ask_model = model_choice(args.model, options)
    if "realdocs" in args.sets and (missing := realdocs.missing_documents(realdocs.load_questions())):
        print(realdocs.install_hint(missing), file=sys.stderr)
        return 1
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="hushdocs-bench-answers-"))
    stdin_mode: bool | None = None
    results: dict[str, dict[str, Any]] = {}
    saved: dict[str, Any] = {}
    started = time.perf_counter()
    print(f"model: {args.model or 'the default'}; options: {options or 'none'}; seed {args.seed}", flush=True)
    for name in args.sets:
        home = work / name / "home"
        home.mkdir(parents=True, exist_ok=True)
        corpus = build_corpus(name, work / name / "docs", args)
        write_settings(home, options)
        if stdin_mode is None:
            stdin_mode = ask_reads_stdin(cli_env(home, models))
            print(f"ask: {'one process, questions on standard input' if stdin_mode else 'one process a question'}")
        run = run_set(corpus, home, models, ask_model, stdin_mode)
        for problem in run.errors:
            print(f"  {SET_TITLES[name]}: {problem}", file=sys.stderr)
        scores = [score(item, reply) for item, reply in zip(corpus.items, run.replies, strict=True)]
        results[name] = metrics(corpus.items, scores, run)
        saved[name] = saved_set(corpus, run, scores, results[name])
        show_failures(corpus, run.replies, scores, args.show_failures)
    models_used = sorted({str(q["reply"].get("model")) for s in saved.values() for q in s["questions"]
                          if q["reply"].get("model")})
    print(f"\nanswers by {', '.join(models_used) or '?'} ({time.perf_counter() - started:.0f} s in all)")
    print(table(results))
    if args.save:
        args.save.write_text(json.dumps({"argv": sys.argv[1:] if argv is None else argv, "options": options,
                                         "model": args.model, "seed": args.seed, "sets": saved}, indent=1,
                                        ensure_ascii=False), "utf-8")
        print(f"saved to {args.save}")
    if args.keep or args.work:  # a --work folder is the caller's: never deleted
        print(f"homes kept in {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
