"""The PyTorch side of figure 2, run by ``reference.ReferenceWorker`` in the reference interpreter.

It needs only torch, sentence-transformers and numpy (not the app's packages): ``ready`` once the model
is loaded and warm, then for each ``run`` line one timed encode of every text, ``time SECONDS``; the
vectors of the first round go to ``--out`` as .npy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

MAX_SEQ_LENGTH = 256  # the app's embedder truncates at 256 word pieces too


def reference_worker_main(model_dir: str, texts_path: str, out_path: str, threads: int, batch_size: int) -> int:
    """Runs in the reference interpreter: needs only torch, sentence-transformers and numpy."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = MAX_SEQ_LENGTH
    texts: list[str] = json.loads(Path(texts_path).read_text("utf-8"))
    model.encode(texts[: batch_size * 2], batch_size=batch_size, normalize_embeddings=True)  # warm-up
    print("ready", flush=True)
    saved = False
    for line in sys.stdin:
        if line.strip() != "run":
            break
        started = time.perf_counter()
        vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        elapsed = time.perf_counter() - started
        if not saved:
            np.save(out_path, np.asarray(vectors, dtype=np.float32))
            saved = True
        print(f"time {elapsed:.6f}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--texts", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    return reference_worker_main(args.model_dir, args.texts, args.out, args.threads, args.batch_size)


if __name__ == "__main__":
    sys.exit(main())
