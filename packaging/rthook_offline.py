"""PyInstaller runtime hook: seal the environment (no telemetry, no hub) before any app code runs.

It runs before ``main.py`` itself, so even an import the bundle's bootloader triggers early finds
``ORT_DISABLE_TELEMETRY`` and the other off switches set (see ``engine/offline.py``).
"""

from __future__ import annotations

from engine.offline import seal_environment

seal_environment()
