"""On-disk layout of an embedded TSDB under its data directory.

- ``series.jsonl``: the catalogue, one ``[metric, [[tag, value], ...]]`` per line in id
  order, appended (and flushed) before any sample of a new series is logged.
- ``wal/<start>.wal``: per partition, the samples written since its last snapshot, as
  records ``count:u32 crc32:u32`` then ``count`` series ids (int32), timestamps (int64)
  and values (float64), little-endian. A torn last record is ignored on replay.
- ``partitions/<start>.npz``: snapshots of partitions (their sorted columns and
  ``meta = [start_ns, length_ns, resolution_ns]``), written to a temporary file and
  renamed into place; the partition's log is removed afterwards.

Flushed to the OS after every write (a killed process loses nothing); not fsync'ed
(a power loss may lose the last writes).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from netweave.assurance.partition import Partition
from netweave.assurance.series import FloatArray, Int32Array, Int64Array, SeriesKey

_HEADER = struct.Struct("<II")
_SAMPLE_BYTES = 4 + 8 + 8


class CorruptDataError(RuntimeError):
    """A file under the data directory cannot be read; the message names it."""


class Storage:
    """Reads and writes the files of one data directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._catalogue = directory / "series.jsonl"
        self._wal = directory / "wal"
        self._partitions = directory / "partitions"
        self._wal.mkdir(parents=True, exist_ok=True)
        self._partitions.mkdir(parents=True, exist_ok=True)

    def load_series(self) -> list[SeriesKey]:
        if not self._catalogue.exists():
            return []
        lines = self._catalogue.read_text(encoding="utf-8").split("\n")
        keys = []
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            try:
                metric, tags = json.loads(line)
                keys.append(SeriesKey(metric, tuple((k, v) for k, v in tags)))
            except ValueError:
                if number == len(lines):
                    break  # torn last line: its samples were never logged
                raise CorruptDataError(f"{self._catalogue}: line {number} is not valid") from None
        return keys

    def append_series(self, keys: list[SeriesKey]) -> None:
        text = "".join(json.dumps([key.metric, key.tags]) + "\n" for key in keys)
        with self._catalogue.open("a", encoding="utf-8") as out:
            out.write(text)

    def log(self, start_ns: int, sid: Int32Array, ts: Int64Array, value: FloatArray) -> None:
        payload = (
            sid.astype("<i4").tobytes() + ts.astype("<i8").tobytes() + value.astype("<f8").tobytes()
        )
        with (self._wal / f"{start_ns}.wal").open("ab") as out:
            out.write(_HEADER.pack(len(sid), zlib.crc32(payload)) + payload)

    def replay(self) -> Iterator[tuple[int, Int32Array, Int64Array, FloatArray]]:
        """Logged samples as (partition start, ids, timestamps, values) chunks."""
        for path in sorted(self._wal.glob("*.wal")):
            start_ns = int(path.stem)
            data = path.read_bytes()
            offset = 0
            while offset + _HEADER.size <= len(data):
                count, checksum = _HEADER.unpack_from(data, offset)
                begin = offset + _HEADER.size
                end = begin + count * _SAMPLE_BYTES
                payload = data[begin:end]
                if end > len(data) or zlib.crc32(payload) != checksum:
                    break  # torn last record
                yield (
                    start_ns,
                    np.frombuffer(payload, "<i4", count, 0).astype(np.int32),
                    np.frombuffer(payload, "<i8", count, 4 * count).astype(np.int64),
                    np.frombuffer(payload, "<f8", count, 12 * count).astype(np.float64),
                )
                offset = end

    def load_partitions(self) -> list[Partition]:
        partitions = []
        for path in self._partitions.glob("*.npz"):
            try:
                with np.load(path) as data:
                    start_ns, length_ns, resolution_ns = (int(x) for x in data["meta"])
                    columns = {name: data[name] for name in data.files if name != "meta"}
            except (OSError, ValueError, KeyError) as error:
                raise CorruptDataError(f"{path}: {error}") from None
            partitions.append(Partition(start_ns, length_ns, resolution_ns, columns))
        return partitions

    def save(self, partition: Partition) -> None:
        """Snapshot `partition`, then forget its log."""
        meta = np.array([partition.start_ns, partition.length_ns, partition.resolution_ns])
        final = self._partitions / f"{partition.start_ns}.npz"
        temporary = final.with_suffix(".tmp.npz")
        arrays: dict[str, Any] = {"meta": meta, **partition.columns()}
        np.savez(temporary, **arrays)
        temporary.replace(final)
        (self._wal / f"{partition.start_ns}.wal").unlink(missing_ok=True)
        partition.dirty = False

    def delete(self, start_ns: int) -> None:
        (self._partitions / f"{start_ns}.npz").unlink(missing_ok=True)
        (self._wal / f"{start_ns}.wal").unlink(missing_ok=True)
