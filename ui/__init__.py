"""The PySide6 desktop app. Talks to the engine only through ``engine.api``."""
