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
        """Sorted ids of the series of `metric` that pass every matcher."""
        chosen = np.array(self._by_metric.get(metric, ()), dtype=np.int32)
        for matcher in matchers:
            values = self._postings.get((metric, matcher.key), {})
            if matcher.regex:
                pattern = re.compile(matcher.value)
                lists = [ids for value, ids in values.items() if pattern.fullmatch(value)]
            else:
                lists = [values.get(matcher.value, [])]
            passing = np.concatenate([np.array(ids, dtype=np.int32) for ids in lists] or [_NONE])
            chosen = np.intersect1d(chosen, passing)
        return np.sort(chosen)

    def group_codes(
        self, ids: Int32Array, by: Sequence[str] | None
    ) -> tuple[Int32Array, list[dict[str, str]]]:
        """For each of `ids`, the index of its group, and each group's tags. `by` None:
        one group per series (all its tags); otherwise the values of the `by` tags (a
        missing tag counts as the empty value and is left out of the group's tags)."""
        codes = np.empty(len(ids), dtype=np.int32)
        groups: dict[tuple[str, ...], int] = {}
        group_tags: list[dict[str, str]] = []
        for position, sid in enumerate(ids.tolist()):
            key = self.keys[sid]
            if by is None:
                codes[position] = len(group_tags)
                group_tags.append(key.tag_dict())
                continue
            tags = key.tag_dict()
            values = tuple(tags.get(tag, "") for tag in by)
            code = groups.get(values)
            if code is None:
                code = groups[values] = len(group_tags)
                group_tags.append({t: v for t, v in zip(by, values, strict=True) if v})
            codes[position] = code
        return codes, group_tags
