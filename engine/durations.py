"""Durations as people read them, for the app ("2 min 05 s") and the terminal ("2m05s")."""

from __future__ import annotations


def format_duration(seconds: float, *, compact: bool = False) -> str:
    """Whole seconds under a minute, minutes and seconds under an hour, then hours and minutes."""
    second, minute, hour, gap = ("s", "m", "h", "") if compact else (" s", " min", " h", " ")
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}{second}"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}{minute}{gap}{seconds:02d}{second}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}{hour}{gap}{minutes:02d}{minute}"
