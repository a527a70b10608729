"""How far a copy into a team library got (``main.py migrate``): no psycopg here, so the engine's facade can name
it without loading the driver."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CopyProgress:
    stage: str  # "documents", "conversations", "verified"
    done: int = 0
    total: int = 0
    copied_now: int = 0  # rows this run copied (the rest were copied by an earlier run)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # what -> (in the file, on the server)

    @property
    def matches(self) -> bool:
        return all(local == server for local, server in self.counts.values())
