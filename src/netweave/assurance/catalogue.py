"""The series catalogue: dense integer ids for series keys, and tag lookups."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from netweave.assurance.query import TagMatcher
from netweave.assurance.series import Int32Array, SeriesKey

_NONE = np.empty(0, dtype=np.int32)


class Catalogue:
    """Assigns ids 0, 1, 2 … to series in order of first sight; finds series by metric
    and tags through per-metric postings (metric, tag key, tag value) → ids."""

    def __init__(self) -> None:
        self.keys: list[SeriesKey] = []
        self._ids: dict[SeriesKey, int] = {}
        self._by_metric: dict[str, list[int]] = defaultdict(list)
        self._postings: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(
            lambda: defaultdict(list)
        )

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: SeriesKey) -> int:
        """The id of `key`, registering it if new."""
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = len(self.keys)
            self.keys.append(key)
            self._by_metric[key.metric].append(sid)
            for tag, value in key.tags:
                self._postings[key.metric, tag][value].append(sid)
        return sid

    def ids(self, keys: Sequence[SeriesKey]) -> tuple[Int32Array, list[SeriesKey]]:
        """Ids of `keys` (registering new ones) and the keys that were new."""
        known = self._ids
        before = len(self.keys)
        ids = [known.get(key) for key in keys]
        for position, sid in enumerate(ids):
            if sid is None:
                ids[position] = self.add(keys[position])
        return np.array(ids, dtype=np.int32), self.keys[before:]

    def select(self, metric: str, matchers: Sequence[TagMatcher]) -> Int32Array:
        """Sorted ids of the series of `metric` that pass every matcher (starting from the
        shortest list of an exact matcher, so that a query for one series stays cheap)."""
        allowed = sorted((self._allowed(metric, m) for m in matchers), key=len)
        chosen = allowed.pop(0) if allowed else self._of_metric(metric)
        for other in allowed:
            chosen = np.intersect1d(chosen, other, assume_unique=True)
        return chosen

    def _of_metric(self, metric: str) -> Int32Array:
        return np.array(self._by_metric.get(metric, ()), dtype=np.int32)

    def _allowed(self, metric: str, matcher: TagMatcher) -> Int32Array:
        values = self._postings.get((metric, matcher.key), {})
        if not matcher.regex:
            return np.array(values.get(matcher.value, ()), dtype=np.int32)
        pattern = re.compile(matcher.value)
        lists = [ids for value, ids in values.items() if pattern.fullmatch(value)]
        return np.sort(np.concatenate([np.array(ids, dtype=np.int32) for ids in lists] or [_NONE]))

    def group_codes(
        self, metric: str, ids: Int32Array, by: Sequence[str] | None
    ) -> tuple[Int32Array, list[dict[str, str]]]:
        """For each of `ids` (series of `metric`), the index of its group, and each
        group's tags. `by` None: one group per series (all its tags); otherwise series
        that share the values of the `by` tags (a missing tag is left out of the group's
        tags)."""
        if by is None:
            return np.arange(len(ids), dtype=np.int32), [
                self.keys[sid].tag_dict() for sid in ids.tolist()
            ]
        columns = np.zeros((len(ids), len(by)), dtype=np.int64)
        names: list[list[str]] = []
        for column, tag in enumerate(by):
            values = self._postings.get((metric, tag), {})
            code_of_sid = np.full(len(self.keys), len(values), dtype=np.int64)
            for code, members in enumerate(values.values()):
                code_of_sid[members] = code
            columns[:, column] = code_of_sid[ids]
            names.append([*values, ""])
        combos, codes = np.unique(columns, axis=0, return_inverse=True)
        group_tags = [
            {
                tag: names[k][code]
                for k, (tag, code) in enumerate(zip(by, combo, strict=True))
                if names[k][code]
            }
            for combo in combos.tolist()
        ]
        return codes.reshape(-1).astype(np.int32), group_tags
