"""The expected time per answer that Settings shows: measured on this computer's own answers once there are some."""

from __future__ import annotations

import json
from pathlib import Path

from engine import paths
from engine.embedding.embedder import OnnxEmbedder
from engine.generation import speeds
from engine.generation.models import TYPICAL_ANSWER_TOKENS, TYPICAL_PROMPT_TOKENS, expected_answer_seconds
from engine.generation.speeds import Speed, speed_of
from engine.models_catalogue import QWEN_05B
from engine.settings import Settings


def test_a_reply_too_short_to_time_gives_no_speed() -> None:
    assert speed_of(300, 2.0, 31, 1.0) == Speed(150.0, 30.0)
    assert speed_of(10, 0.1, 31, 1.0) is None  # the prompt was cached: that times the overhead
    assert speed_of(300, 2.0, 3, 0.1) is None


def test_the_estimate_is_replaced_by_what_this_computer_measured(hushdocs_home: Path) -> None:
    estimate = expected_answer_seconds(QWEN_05B, cores=2)
    assert estimate is not None and estimate[1] is False
    speeds.record(QWEN_05B.file_name, Speed(100.0, 25.0))
    seconds, measured = expected_answer_seconds(QWEN_05B, cores=2) or (0.0, False)
    assert measured and abs(seconds - (TYPICAL_PROMPT_TOKENS / 100 + TYPICAL_ANSWER_TOKENS / 25)) < 1e-6
    speeds.record(QWEN_05B.file_name, Speed(200.0, 25.0))  # a running average: one answer moves it part way
    assert speeds.measured_speeds().get(QWEN_05B.file_name) == Speed(130.0, 25.0)
    assert json.loads((paths.data_dir() / speeds.SPEEDS_FILE).read_text("utf-8")) == {QWEN_05B.file_name: [130.0, 25.0]}


def test_a_model_not_yet_run_here_is_estimated_from_one_that_was(hushdocs_home: Path) -> None:
    """The 0.5B measured at half its reference speed here: the 1.5B's estimate doubles too."""
    from engine.generation.models import REFERENCE_SPEEDS
    from engine.models_catalogue import QWEN_15B

    before = expected_answer_seconds(QWEN_15B, cores=2)
    reference = REFERENCE_SPEEDS[QWEN_05B.name]
    speeds.record(QWEN_05B.file_name, Speed(reference.prompt_tokens_per_s / 2, reference.decode_tokens_per_s / 2))
    after = expected_answer_seconds(QWEN_15B, cores=2)
    assert before is not None and after is not None and not after[1]
    assert abs(after[0] - 2 * before[0]) < 1e-6


def test_a_damaged_speeds_file_is_an_estimate_again(hushdocs_home: Path) -> None:
    (paths.data_dir() / speeds.SPEEDS_FILE).write_text("{not json", "utf-8")
    assert speeds.measured_speeds().get(QWEN_05B.file_name) is None
    (paths.data_dir() / speeds.SPEEDS_FILE).write_text(json.dumps({QWEN_05B.file_name: ["fast", -1]}), "utf-8")
    assert expected_answer_seconds(QWEN_05B, cores=2)[1] is False  # type: ignore[index]
    speeds.record(QWEN_05B.file_name, Speed(100.0, 25.0))  # and the next answer repairs it
    assert speeds.measured_speeds().get(QWEN_05B.file_name) == Speed(100.0, 25.0)


def test_an_answer_records_the_real_models_speed(hushdocs_home: Path, tmp_path: Path, tiny_model_path: Path,
                                                 embedder: OnnxEmbedder) -> None:
    from engine.api import Engine

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "keeper.md").write_text("# Lighthouse\n\nThe lighthouse on Skarvøy is kept by Tomas Lindqvist, who "
                                      "lights it every evening at dusk and writes the weather in a log book.\n")
    settings = Settings(chat_model=str(tiny_model_path), context_size=2048, temperature=0.0, max_answer_tokens=40)
    with Engine(settings, embedder=embedder) as engine:
        list(engine.index([folder]))
        assert speeds.measured_speeds().get(tiny_model_path.name) is None
        list(engine.ask("Who keeps the lighthouse on Skarvøy, and when does he light it?"))
        generator = engine.generator()
        speed = speeds.measured_speeds().get(tiny_model_path.name)
    timed = generator.last_speed
    assert speed is not None and timed is not None
    assert abs(speed.prompt_tokens_per_s - timed.prompt_tokens_per_s) < 0.1  # the first record, rounded
    assert abs(speed.decode_tokens_per_s - timed.decode_tokens_per_s) < 0.1
    # SmolLM2-135M on a CPU: hundreds of prompt tokens and tens of reply tokens a second, not a timing of nothing
    assert 20 < speed.prompt_tokens_per_s < 100_000 and 2 < speed.decode_tokens_per_s < 10_000
