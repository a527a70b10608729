"""The engine's door: formats named once, the has-documents rule, model readiness, settings that reload."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from engine.api import FORMATS, Engine, Settings, file_patterns, format_names, is_paged, missing_models_message
from engine.ingest.loaders import SUPPORTED_EXTENSIONS


def test_every_supported_extension_has_a_format_name_once() -> None:
    named = [extension for f in FORMATS for extension in f.extensions]
    assert sorted(named) == sorted(SUPPORTED_EXTENSIONS)
    assert {"*.xps", "*.fb2", "*.mobi", "*.rst", "*.epub", "*.docx"} <= set(file_patterns())
    assert all(name in format_names() for name in ("XPS", "FB2", "MOBI", "reStructuredText"))


def test_paged_formats_are_the_ones_pymupdf_opens() -> None:
    assert all(is_paged(f"a{ext}") for ext in (".pdf", ".PDF", ".epub", ".xps", ".oxps", ".fb2", ".mobi"))
    assert not any(is_paged(f"a{ext}") for ext in (".md", ".docx", ".html", ".txt"))


def test_has_documents_means_something_to_answer_from(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"not a pdf")
    with Engine(Settings(), embedder=embedder) as engine:
        list(engine.index([folder], "Broken"))
        assert engine.has_folders()
        assert not engine.has_documents()  # a failed file is listed, but nothing can be answered from it
        (folder / "note.md").write_text("# Note\n\nThe ferry leaves at seven.")
        list(engine.sync())
        assert engine.has_documents() and engine.has_documents("Broken")
        assert not engine.has_documents("Another collection")


def test_model_readiness_names_what_is_missing() -> None:
    assert missing_models_message(Settings()) == ""  # the test machine has the bundled models
    message = missing_models_message(Settings(chat_model="/nowhere/model.gguf"))
    assert "neither a catalogue model nor an existing .gguf" in message


def test_settings_that_reload_the_chat_model() -> None:
    settings = Settings()
    assert not dataclasses.replace(settings, temperature=0.7, passages=5).needs_model_reload(settings)
    changed = [dataclasses.replace(settings, chat_model="x.gguf"), dataclasses.replace(settings, context_size=4096),
               dataclasses.replace(settings, gpu_layers=0), dataclasses.replace(settings, threads=3)]
    assert all(new.needs_model_reload(settings) for new in changed)


def test_the_window_says_what_leaves_the_computer(embedder) -> None:  # type: ignore[no-untyped-def]
    with Engine(Settings(), embedder=embedder) as engine:
        assert engine.privacy_note() == "Nothing leaves this computer."
    served = Settings(answers_from="server", server_url="http://gpu-box.lan:8080")
    with Engine(served, embedder=embedder) as engine:
        note = engine.privacy_note()
    assert "gpu-box.lan:8080" in note and not note.startswith("Nothing")
