"""Re-encode a GGUF with llama.cpp's own quantizer, in a process of its own (set-up time only).

    python -m models.requantize SOURCE.gguf OUTPUT.gguf FILE_TYPE      # FILE_TYPE: a LLAMA_FTYPE_MOSTLY_* number

models/provision.py runs it for the catalogue's requantized models: llama.cpp's log and any crash stay in
this process, and the parent verifies the output's sha256.
"""

from __future__ import annotations

import ctypes
import sys

import llama_cpp

from engine.generation.cpu_backend import load_cpu_backend


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, output, file_type = argv[0], argv[1], int(argv[2])
    load_cpu_backend()  # a dispatch build of llama.cpp needs its CPU backend registered first
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = file_type
    params.allow_requantize = True  # the source is already quantized: re-encode its weights, as published
    params.nthread = 0  # llama.cpp's choice; the output does not depend on it
    return int(llama_cpp.llama_model_quantize(source.encode(), output.encode(), ctypes.byref(params)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
