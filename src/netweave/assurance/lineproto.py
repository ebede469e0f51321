"""InfluxDB line protocol (v1/v2 text format) parsed into columns.

``measurement[,tag=value...] field=value[,field=value...] [timestamp]``, one point per
line; blank lines and lines starting with ``#`` are skipped. Escapes follow the spec:
in the measurement ``\\,`` and ``\\ ``; in tag keys, tag values and field keys also
``\\=``; in string field values ``\\"`` and ``\\\\``. A backslash before any other
character is kept as it is. Field values: floats (``1``, ``-1.5e3``), integers (``3i``),
unsigned integers (``3u``), booleans (``t``/``true``/``f``/``false`` in any of the
spec's spellings, stored as 1.0/0.0) and double-quoted strings. NaN and infinities are
refused. Each numeric field becomes a sample of series ``measurement.field``; string
fields are checked and counted in `Parsed.strings_dropped` but not stored (the store
keeps numbers). Integers beyond 2**53 lose precision as float64. A string value may
not span lines.

A bad line is reported with its 1-based number and the reason; the good lines of the
same text are still parsed (InfluxDB's partial-write behaviour), so a caller chooses
between keeping them and refusing the whole write.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from netweave.assurance.series import SampleBatch, SeriesKey, Tags

PRECISIONS: dict[str, int] = {
    "ns": 1,
    "n": 1,
    "us": 1_000,
    "u": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
"""Timestamp precision names (InfluxDB v1 and v2 spellings) → nanoseconds per unit."""

_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})
_INT64 = 2**63
_UINT64 = 2**64


class _Bad(Exception):
    """One line is malformed; the message is the reason."""


@dataclass(frozen=True, slots=True)
class LineError:
    """Line `line` (1-based) was refused because of `reason`."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class LineProtocolError(ValueError):
    """Some lines were malformed; `errors` lists each, the message names the first."""

    def __init__(self, errors: list[LineError]) -> None:
        more = f" (and {len(errors) - 1} more bad lines)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")
        self.errors = errors


@dataclass
class Parsed:
    """The samples of the good lines, the bad lines, and what was read but not kept."""

    batch: SampleBatch
    points: int
    errors: list[LineError] = field(default_factory=list)
    strings_dropped: int = 0

    def raise_errors(self) -> None:
        """Raise `LineProtocolError` if any line was bad."""
        if self.errors:
            raise LineProtocolError(self.errors)


def precision_ns(precision: str) -> int:
    """Nanoseconds per unit of `precision`; `ValueError` naming the choices otherwise."""
    try:
        return PRECISIONS[precision]
    except KeyError:
        choices = ", ".join(PRECISIONS)
        raise ValueError(f"precision: {precision!r} is not one of {choices}") from None


def parse(text: str, precision: str = "ns", now_ns: int | None = None) -> Parsed:
    """Parse line-protocol `text` with a fresh `LineParser` (see `LineParser.parse`)."""
    return LineParser().parse(text, precision, now_ns)


class LineParser:
    """Parses line protocol, remembering the series keys it has built (up to
    `remember` of them): a producer sends the same series over and over, and building
    keys once keeps ingest fast. Safe to share between threads."""

    def __init__(self, remember: int = 1_000_000) -> None:
        self._remember = remember
        self._keys: dict[str, SeriesKey] = {}

    def parse(self, text: str, precision: str = "ns", now_ns: int | None = None) -> Parsed:
        """Parse `text`; points without a timestamp get `now_ns` (default: the current
        time). Raises `ValueError` only for a bad `precision`."""
        scale = precision_ns(precision)
        default_stamp = time.time_ns() if now_ns is None else now_ns
        if len(self._keys) > self._remember:
            self._keys = {}
        known = self._keys
        index_of: dict[str, int] = {}  # "series text\nfield" -> position in keys
        line_of: list[int] = []  # per position, the last line that used it
        keys: list[SeriesKey] = []
        positions: list[int] = []
        stamps: list[int] = []
        values: list[float] = []
        errors: list[LineError] = []
        points = strings = 0
        for number, raw_line in enumerate(text.split("\n"), 1):
            line = raw_line.strip(" \t\r")
            if not line or line[0] == "#":
                continue
            mark = len(values)
            try:
                escaped = "\\" in line or '"' in line
                numbers = None
                stamp_text: str | None
                if not escaped:
                    parts = line.split(" ")
                    if len(parts) == 3 and parts[2].isdigit() and parts[2].isascii():
                        series_text, field_text, stamp_text = parts
                        numbers = _plain_numbers(field_text)
                if numbers is None:
                    series_text, fields, stamp_text = (
                        _split_escaped(line) if escaped else _split_plain(line)
                    )
                    numbers = _field_values(fields)
                stamp = default_stamp if stamp_text is None else _timestamp(stamp_text, scale)
                for name, value in numbers:
                    if value is None:
                        strings += 1
                        continue
                    slot = series_text + "\n" + name
                    position = index_of.get(slot)
                    if position is None:
                        key = known.get(slot) or _series_key(series_text, name, escaped)
                        known[slot] = key
                        position = index_of[slot] = len(keys)
                        keys.append(key)
                        line_of.append(0)
                    elif line_of[position] == number:
                        raise _Bad(f"field {name!r} appears twice")
                    line_of[position] = number
                    positions.append(position)
                    stamps.append(stamp)
                    values.append(value)
            except _Bad as bad:
                errors.append(LineError(number, str(bad)))
                del positions[mark:], stamps[mark:], values[mark:]
                continue
            points += 1
        batch = SampleBatch(
            keys,
            np.array(positions, dtype=np.int32),
            np.array(stamps, dtype=np.int64),
            np.array(values, dtype=np.float64),
        )
        return Parsed(_without_unused_keys(batch) if errors else batch, points, errors, strings)


def _without_unused_keys(batch: SampleBatch) -> SampleBatch:
    """`batch` without the keys that only bad lines used."""
    used = np.unique(batch.key_index)
    if len(used) == len(batch.keys):
        return batch
    renumber = np.zeros(len(batch.keys), dtype=np.int32)
    renumber[used] = np.arange(len(used), dtype=np.int32)
    keys = [batch.keys[position] for position in used.tolist()]
    return SampleBatch(keys, renumber[batch.key_index], batch.timestamps, batch.values)


def _plain_numbers(field_text: str) -> list[tuple[str, float | None]] | None:
    """The fields of a plain line when all are well-formed decimal floats or non-negative
    integers (the common case, checked quickly); None for anything else, which the full
    path then parses or reports."""
    numbers: list[tuple[str, float | None]] = []
    for item in field_text.split(","):
        name, _, text = item.partition("=")
        if not name or not text:
            return None
        if text[-1] == "i":
            body = text[:-1]
            if not (body.isdigit() and body.isascii() and len(body) < 19):
                return None
            numbers.append((name, float(body)))
            continue
        try:
            value = float(text)
        except ValueError:
            return None
        if (
            value - value != 0
            or "_" in text
            or not text.isascii()
            or text[0] <= " "
            or text[-1] <= " "
        ):
            return None
        numbers.append((name, value))
    return numbers


def _series_key(series_text: str, field_name: str, escaped: bool) -> SeriesKey:
    if escaped:
        measurement, *tag_texts = _split(series_text, ",")
        head = _head(
            _unescape(measurement, ", "),
            [[_unescape(part, ",= ") for part in _split(tag, "=")] for tag in tag_texts],
        )
        field_name = _unescape(field_name, ",= ")
    else:
        measurement, *tag_texts = series_text.split(",")
        head = _head(measurement, [tag.split("=") for tag in tag_texts])
    return SeriesKey(f"{head.metric}.{field_name}", head.tags)


def _split_plain(line: str) -> tuple[str, list[tuple[str, str]], str | None]:
    """A line with no backslash and no quote: split on spaces, commas and ``=``."""
    parts = line.split(" ")
    if len(parts) == 3:
        series_text, field_text, stamp_text = parts
    elif len(parts) == 2:
        (series_text, field_text), stamp_text = parts, None
    else:
        raise _Bad(_shape_reason(len(parts)))
    fields = []
    for item in field_text.split(","):
        name, _, value = item.partition("=")
        fields.append((name, value))
    return series_text, fields, stamp_text


def _shape_reason(parts: int) -> str:
    if parts < 2:
        return "missing fields: expected 'measurement[,tags] field=value[,...] [timestamp]'"
    return f"{parts} space-separated sections where at most 3 are allowed (escape spaces as '\\ ')"


def _head(measurement: str, tag_parts: list[list[str]]) -> SeriesKey:
    if not measurement:
        raise _Bad("missing measurement name")
    tags: dict[str, str] = {}
    for parts in tag_parts:
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise _Bad(f"tag {'='.join(parts)!r}: expected key=value (escape '=' as '\\=')")
        key, value = parts
        if key in tags:
            raise _Bad(f"tag {key!r} appears twice")
        tags[key] = value
    tag_pairs: Tags = tuple(sorted(tags.items()))
    return SeriesKey(measurement, tag_pairs)


def _field_values(fields: list[tuple[str, str]]) -> list[tuple[str, float | None]]:
    """(raw field name, number or None for a string value) per field."""
    numbers: list[tuple[str, float | None]] = []
    for name, value in fields:
        if not name:
            raise _Bad(f"field '={value}': missing field name")
        if not value:
            raise _Bad(f"field {name!r}: missing value (expected name=value)")
        numbers.append((name, None if value[0] == '"' else _number(name, value)))
    if len(numbers) > 1 and len({name for name, _ in numbers}) < len(numbers):
        names = [name for name, _ in numbers]
        twice = next(name for name in names if names.count(name) > 1)
        raise _Bad(f"field {twice!r} appears twice")
    return numbers


def _number(name: str, text: str) -> float:
    last = text[-1]
    if last == "i" or last == "u":
        return _integer(name, text, last)
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise _Bad(f"field {name!r}: {text!r} is not a number, boolean or string") from None
    if not text.isascii() or "_" in text or text[0] <= " " or last <= " ":
        raise _Bad(f"field {name!r}: {text!r} is not a number, boolean or string")
    if not math.isfinite(value):
        raise _Bad(f"field {name!r}: {text!r} is not finite (NaN and infinities are refused)")
    return value


def _integer(name: str, text: str, suffix: str) -> float:
    digits = text[:-1]
    negative = digits[:1] == "-"
    body = digits[1:] if negative else digits
    kind = "integer" if suffix == "i" else "unsigned integer"
    if not (body.isascii() and body.isdigit()) or (negative and suffix == "u"):
        raise _Bad(f"field {name!r}: {text!r} is not an {kind}")
    value = int(digits)
    if (suffix == "i" and not -_INT64 <= value < _INT64) or value >= _UINT64:
        raise _Bad(f"field {name!r}: {text!r} is out of range for a 64-bit {kind}")
    return float(value)


def _timestamp(text: str, scale: int) -> int:
    body = text[1:] if text[:1] == "-" else text
    if not (body.isascii() and body.isdigit()):
        raise _Bad(f"timestamp {text!r} is not an integer")
    stamp = int(text) * scale
    if not -_INT64 <= stamp < _INT64:
        raise _Bad(f"timestamp {text!r} is out of range for nanoseconds in 64 bits")
    return stamp


# Lines with escapes or quoted strings: a character scanner, slower but complete.


def _split_escaped(line: str) -> tuple[str, list[tuple[str, str]], str | None]:
    series_text, rest = _cut_at_space(line)
    if rest is None:
        raise _Bad(_shape_reason(1))
    sections = _split(rest, " ", quotes=True)
    if len(sections) > 2:
        raise _Bad(_shape_reason(len(sections) + 1))
    stamp_text = sections[1] if len(sections) == 2 else None
    fields = []
    for item in _split(sections[0], ",", quotes=True):
        name, value = _cut_field(item)
        if value[:1] == '"':
            _check_string(name, value)
        fields.append((name, value))
    return series_text, fields, stamp_text


def _cut_at_space(line: str) -> tuple[str, str | None]:
    position = 0
    while position < len(line):
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char == " ":
            return line[:position], line[position + 1 :]
        position += 1
    return line, None


def _split(text: str, separator: str, quotes: bool = False) -> list[str]:
    """`text` cut at every `separator` not escaped by a backslash (and, with `quotes`,
    not inside a double-quoted string)."""
    parts: list[str] = []
    start = position = 0
    quoted = False
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if quotes and char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:position])
            start = position + 1
        position += 1
    if quoted:
        raise _Bad("unterminated string value (a closing '\"' is missing)")
    parts.append(text[start:])
    return parts


def _cut_field(item: str) -> tuple[str, str]:
    parts = _split(item, "=")
    if len(parts) < 2:
        raise _Bad(f"field {item!r}: expected name=value")
    name = parts[0]
    return name, item[len(name) + 1 :]


def _check_string(name: str, value: str) -> None:
    if len(value) < 2 or value[-1] != '"' or _ends_escaped(value[:-1]):
        raise _Bad(f"field {name!r}: string value must end with an unescaped '\"'")
    inner = value[1:-1]
    if '"' in inner.replace('\\"', ""):
        raise _Bad(f"field {name!r}: a '\"' inside a string must be escaped as '\\\"'")


def _ends_escaped(text: str) -> bool:
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def _unescape(text: str, escapable: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text) and text[position + 1] in escapable:
            out.append(text[position + 1])
            position += 2
            continue
        out.append(char)
        position += 1
    return "".join(out)
