"""The chat model through llama-cpp-python: streaming, stop within one token, template, log."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from engine.errors import HushdocsError, ModelLoadError
from engine.generation.llm import GeneratorOptions, LlamaGenerator


def test_streams_a_reply(tiny_generator) -> None:  # type: ignore[no-untyped-def]
    pieces = list(tiny_generator.stream_chat([{"role": "user", "content": "Name a colour."}], max_tokens=12,
                                             temperature=0.0))
    assert len(pieces) >= 2
    assert "".join(pieces).strip()


def test_stop_takes_effect_within_one_token(tiny_generator) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    received = []
    for piece in tiny_generator.stream_chat([{"role": "user", "content": "Count from 1 to 200."}],
                                            max_tokens=300, temperature=0.0, stop=stop):
        received.append(piece)
        if len(received) == 5:
            stop.set()
    assert len(received) == 5


def test_stop_ends_the_prompts_evaluation_itself(tiny_model_path: Path) -> None:
    """Stop pressed while a long prompt is still being read (seconds on 2 cores): llama.cpp abandons it instead of
    finishing it first; the model stays usable and what it had read stays cached."""
    generator = LlamaGenerator(tiny_model_path, GeneratorOptions(n_ctx=4096, n_threads=1))
    try:
        messages = [{"role": "user", "content": "Summarise: " + "the lighthouse keeper counts the ships. " * 300}]
        length = len(generator.prompt_tokens(messages))  # type: ignore[arg-type]
        stop = threading.Event()
        stop.set()
        assert list(generator.stream_chat(messages, max_tokens=8, stop=stop)) == []  # type: ignore[arg-type]
        assert generator._llm.n_tokens < length  # abandoned part-way (whole batches of 512 may be done)
        reply = list(generator.stream_chat([{"role": "user", "content": "Name a colour."}], max_tokens=6,
                                           temperature=0.0))
        assert "".join(reply).strip()
    finally:
        generator.close()


def test_chat_template_comes_from_the_gguf(tiny_generator) -> None:  # type: ignore[no-untyped-def]
    assert (tiny_generator.chat_format, tiny_generator.warning) == ("gguf template", "")
    assert "<|im_start|>" in tiny_generator._llm.metadata["tokenizer.chat_template"]  # SmolLM2 ships one
    prompt = tiny_generator.apply_template([{"role": "user", "content": "Name a colour."}])
    assert "<|im_start|>user\nName a colour.<|im_end|>" in prompt  # formatted by it, not by llama-2's [INST]
    assert "[INST]" not in prompt


def test_settings_reach_llama_cpp(tiny_model_path: Path) -> None:
    generator = LlamaGenerator(tiny_model_path, GeneratorOptions(n_ctx=1024, n_threads=1, n_gpu_layers=0))
    try:
        assert generator.n_ctx == 1024
        assert generator.count_tokens("hello world") >= 2
    finally:
        generator.close()


def test_a_closed_model_refuses_work_instead_of_crashing(tiny_model_path: Path) -> None:
    """A window closed while an answer is being prepared closes the model under the answer's thread: llama.cpp
    would crash the process on the next call."""
    generator = LlamaGenerator(tiny_model_path, GeneratorOptions(n_ctx=512, n_threads=1))
    generator.close()
    generator.close()  # closing twice is harmless
    for call in (lambda: generator.count_tokens("hello"), lambda: generator.prompt_tokens([{"role": "user",
                                                                                           "content": "hi"}]),
                 lambda: list(generator.stream_chat([{"role": "user", "content": "hi"}], max_tokens=4))):
        with pytest.raises(HushdocsError, match="was closed"):
            call()


def test_llama_cpp_log_goes_to_the_app_log(tiny_model_path: Path, caplog: pytest.LogCaptureFixture,
                                           capfd: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.DEBUG, logger="llama.cpp"):
        LlamaGenerator(tiny_model_path, GeneratorOptions(n_ctx=512, n_threads=1)).close()
    assert any(r.name == "llama.cpp" for r in caplog.records)
    assert "llama_context" not in capfd.readouterr().err


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "notes.gguf"
    fake.write_bytes(b"this is not a gguf file" * 100)
    with pytest.raises(ModelLoadError, match=r"notes\.gguf"):
        LlamaGenerator(fake)


def test_characters_split_across_tokens_arrive_whole(tiny_generator) -> None:  # type: ignore[no-untyped-def]
    pieces = list(tiny_generator.stream_chat(
        [{"role": "user", "content": "Repeat exactly: 東京 café naïve ✓"}], max_tokens=24, temperature=0.0))
    assert pieces and "\ufffd" not in "".join(pieces)


def test_the_system_prompt_is_evaluated_once_and_reused(tiny_generator) -> None:  # type: ignore[no-untyped-def]
    messages = [{"role": "system", "content": "You answer from documents."},
                {"role": "user", "content": "What is in the documents?"}]
    cached = tiny_generator.prefill(messages)
    prompt = tiny_generator.prompt_tokens(messages)
    assert 0 < cached < len(prompt)
    # What is cached is the start of the real prompt, so llama.cpp evaluates only the rest.
    assert list(tiny_generator._llm._input_ids[:cached]) == prompt[:cached]
    assert "".join(tiny_generator.stream_chat(messages, max_tokens=8, temperature=0.0)).strip()


def test_reply_tokens_carry_the_models_own_probabilities(tiny_model_path: Path, tiny_generator) -> None:  # type: ignore[no-untyped-def]
    """Each token's log-probability, read from the logits it was sampled from, is what llama-cpp-python's own
    logprobs (a second copy of the model keeping every position's logits) give the same tokens."""
    import numpy as np
    from llama_cpp import Llama

    messages = [{"role": "user", "content": "Name three colours."}]
    pieces = list(tiny_generator.stream_chat(messages, max_tokens=10, temperature=0.0))
    assert "".join(piece for piece, _ in tiny_generator.reply_tokens) == "".join(pieces)
    prompt = tiny_generator.prompt_tokens(messages)
    evaluated = list(tiny_generator._llm.input_ids[len(prompt): tiny_generator._llm.n_tokens])  # all but the last
    assert len(evaluated) >= 5
    reference = Llama(model_path=str(tiny_model_path), n_ctx=1024, n_threads=2, logits_all=True, flash_attn=True,
                      verbose=False)
    try:
        reference.eval(prompt + evaluated)
        scores = np.asarray(reference.scores[: reference.n_tokens], dtype=np.float64)
    finally:
        reference.close()
    for i, token in enumerate(evaluated):
        row = scores[len(prompt) - 1 + i]
        expected = row[token] - row.max() - np.log(np.exp(row - row.max()).sum())
        # one batch against token by token: the sums differ in their last digits, the probabilities barely
        assert abs(np.exp(tiny_generator.reply_tokens[i][1]) - np.exp(expected)) < 0.03, (
            i, tiny_generator.reply_tokens[i], expected)
        assert token == int(row.argmax())  # greedy: the most likely token each time


def test_a_withheld_opening_is_never_written_and_its_probability_is_kept(tiny_generator) -> None:  # type: ignore[no-untyped-def]
    """The reply the prompt offers for "the documents do not answer" is withheld at the first token, so the model
    answers all the same, and the probability it gave that opening is what its own logits say."""
    import math

    messages = [{"role": "user", "content": "Name three colours."}]
    free = "".join(tiny_generator.stream_chat(messages, max_tokens=6, temperature=0.0))
    first_piece, first_logprob = tiny_generator.reply_tokens[0]
    assert tiny_generator.withheld_probability is None  # nothing withheld, nothing measured
    withheld = "".join(tiny_generator.stream_chat(messages, max_tokens=6, temperature=0.0, withhold=free))
    assert withheld.strip() and not withheld.startswith(first_piece), (free, withheld)
    probability = tiny_generator.withheld_probability
    assert probability is not None
    # the opening with and without a leading space: at least the greedy token's own probability
    assert math.exp(first_logprob) - 0.02 <= probability <= 1.0, (probability, math.exp(first_logprob))
    # the next reply withholds nothing again
    assert "".join(tiny_generator.stream_chat(messages, max_tokens=6, temperature=0.0)) == free
