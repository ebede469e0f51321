"""Text forms of query parameters: times, durations and tag matchers."""

from __future__ import annotations

import re
from datetime import datetime

from netweave.assurance.query import TagMatcher

_UNITS_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_UNITS_NS["d"] = 24 * _UNITS_NS["h"]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d)?")


def parse_duration(text: str) -> int:
    """Nanoseconds in ``90``, ``1.5`` (seconds), ``500ms``, ``15s``, ``5m``, ``1h``, ``7d``."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 15s, 5m, 1h or a number of seconds")
    number, unit = match.groups()
    return round(float(number) * _UNITS_NS[unit or "s"])


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch of Unix seconds (``1700000000.5``) or RFC 3339 with a
    zone (``2026-11-22T00:00:00Z``)."""
    try:
        return round(float(text) * 1e9) if text.replace(".", "", 1).isdigit() else _rfc3339(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not Unix seconds or an RFC 3339 time such as 2026-11-22T00:00:00Z"
        ) from None


def _rfc3339(text: str) -> int:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    seconds = int(moment.timestamp() // 1)
    return seconds * 10**9 + moment.microsecond * 1_000


def parse_matcher(text: str) -> TagMatcher:
    """``key:value`` (equal) or ``key~regex`` (full match), cut at the first ``:`` or ``~``."""
    cut = min((text.find(mark) for mark in ":~" if mark in text), default=-1)
    if cut <= 0:
        raise ValueError(f"{text!r} is not key:value or key~regex")
    return TagMatcher(key=text[:cut], value=text[cut + 1 :], regex=text[cut] == "~")
