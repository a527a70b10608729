"""The ONNX embedder against fp32 sentence-transformers reference vectors (tests/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).parent / "data" / "minilm_fp32_reference.npz"


def test_vectors_match_the_fp32_reference(embedder) -> None:  # type: ignore[no-untyped-def]
    reference = np.load(REFERENCE)
    texts = [str(t) for t in reference["texts"]]
    vectors = embedder.embed(texts)
    cosines = np.sum(vectors * reference["vectors"], axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.998, f"cosine {cosines[worst]:.4f} for {texts[worst][:80]!r}"


def test_vectors_are_unit_length_float32_in_input_order(embedder) -> None:  # type: ignore[no-untyped-def]
    texts = ["short", "a much longer sentence " * 20, "medium length sentence here"]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert together.dtype == np.float32 and together.shape == (3, embedder.dim)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # Batching sorts by length and pads; the result must not depend on the company a text keeps.
    assert np.allclose(together, alone, atol=1e-4)


def test_text_past_128_word_pieces_changes_the_vector(embedder) -> None:  # type: ignore[no-untyped-def]
    """The shipped tokenizer truncates at 128; ours must see up to 256 word pieces."""
    head = "The history of the duchy of Normandy is long and complicated. " * 12
    assert 128 < embedder.count_tokens(head) < 200
    first, second = embedder.embed([head + " apples", head + " quantum chromodynamics"])
    assert float(first @ second) < 0.9999


def test_count_tokens_has_no_truncation(embedder) -> None:  # type: ignore[no-untyped-def]
    assert embedder.count_tokens("word " * 600) == 600


def test_a_question_runs_on_a_session_whose_threads_sleep_with_the_same_vectors(embedder) -> None:  # type: ignore[no-untyped-def]
    from engine.embedding.embedder import QUICK_CALL_TEXTS

    quick, batch = embedder.session_for(1), embedder.session_for(QUICK_CALL_TEXTS + 1)
    assert quick is embedder.session_for(QUICK_CALL_TEXTS) and quick is not batch
    spinning = "session.intra_op.allow_spinning"
    assert quick.get_session_options().get_session_config_entry(spinning) == "0"
    assert batch.get_session_options().get_session_config_entry(spinning) == "1"
    texts = [str(t) for t in np.load(REFERENCE)["texts"]][:3]
    for text in texts:
        alone = embedder.embed([text])  # the question's session
        among_copies = embedder.embed([text] * (QUICK_CALL_TEXTS + 1))  # the batch session, no padding
        assert np.allclose(among_copies, alone, atol=1e-6)
