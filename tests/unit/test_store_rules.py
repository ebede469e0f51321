from __future__ import annotations

import pytest

from netweave.model import ConfigRule, RuleStatus
from netweave.store import Change, ConflictError, NotFoundError, Op, Store


def _rules(n: int, device: str = "d1", owner: str = "service/x") -> list[ConfigRule]:
    return [
        ConfigRule(
            id=f"{device}-r{i:05}",
            owner=owner,
            device_id=device,
            key=f"/flow/{i}",
            value={"n": i, "nested": {"ok": True, "list": [1, "a"]}},
        )
        for i in range(n)
    ]


def test_rules_round_trip_equal_to_what_was_written(store: Store) -> None:
    rules = _rules(3)
    rules[1].error = "refused"
    rules[2].status = RuleStatus.APPLIED
    with store.transaction() as tx:
        tx.rules.add_many(rules)
    with store.read() as r:
        assert r.rules.list() == rules
        assert r.rules.get(rules[1].id) == rules[1]


def test_bulk_write_crosses_chunk_boundaries(store: Store) -> None:
    rules = _rules(4500) + _rules(10, device="d2", owner="service/y")
    with store.transaction() as tx:
        tx.rules.add_many(rules)
    with store.read() as r:
        assert r.rules.count() == 4510
        assert r.rules.count(device_id="d2") == 10
        assert r.rules.count(owner="service/x", device_id="d1") == 4500
        ids = [rule.id for rule in rules[::-1]]
        assert [rule.id for rule in r.rules.get_many(ids)] == ids
        assert set(r.rules.find_many(["d2-r00003", "nope"])) == {"d2-r00003"}


def test_get_many_names_the_missing_id(store: Store) -> None:
    with store.read() as r, pytest.raises(NotFoundError, match="'missing'"):
        r.rules.get_many(["missing"])


def test_duplicate_rule_id_is_a_conflict_on_id(store: Store) -> None:
    with store.transaction() as tx:
        tx.rules.add_many(_rules(2))
    with pytest.raises(ConflictError) as raised, store.transaction() as tx:
        tx.rules.add_many(_rules(1))
    assert (raised.value.kind, raised.value.field) == ("config_rule", "id")


def test_list_filters_and_pages(store: Store) -> None:
    with store.transaction() as tx:
        tx.rules.add_many(_rules(10))
        tx.rules.set_status(["d1-r00002", "d1-r00005"], RuleStatus.FAILED, "no table 9")
    with store.read() as r:
        page = r.rules.list(device_id="d1", limit=3, offset=3)
        assert [rule.id for rule in page] == ["d1-r00003", "d1-r00004", "d1-r00005"]
        failed = r.rules.list(status=RuleStatus.FAILED)
        assert [(rule.id, rule.error) for rule in failed] == [
            ("d1-r00002", "no table 9"),
            ("d1-r00005", "no table 9"),
        ]
        assert r.rules.count(status=RuleStatus.PENDING) == 8


def test_set_status_reports_before_and_after(store: Store) -> None:
    seen: list[list[Change]] = []
    with store.transaction() as tx:
        tx.rules.add_many(_rules(2))
    store.on_commit(seen.append)
    with store.transaction() as tx:
        updated = tx.rules.set_status(["d1-r00001", "unknown"], RuleStatus.APPLIED)
    assert [rule.id for rule in updated] == ["d1-r00001"]
    [change] = seen[0]
    assert change.op == Op.UPDATED
    assert isinstance(change.entity, ConfigRule) and isinstance(change.before, ConfigRule)
    assert (change.before.status, change.entity.status) == (RuleStatus.PENDING, RuleStatus.APPLIED)


def test_put_many_inserts_new_and_replaces_existing(store: Store) -> None:
    seen: list[list[Change]] = []
    with store.transaction() as tx:
        tx.rules.add_many(_rules(2))
    store.on_commit(seen.append)
    changed = _rules(3)
    for rule in changed:
        rule.value = {"v": 2}
    with store.transaction() as tx:
        tx.rules.put_many(changed)
    with store.read() as r:
        assert r.rules.list() == changed
    assert sorted((c.op, c.entity.id) for c in seen[0]) == [
        (Op.CREATED, "d1-r00002"),
        (Op.UPDATED, "d1-r00000"),
        (Op.UPDATED, "d1-r00001"),
    ]


def test_delete_many_reports_what_it_deleted(store: Store) -> None:
    seen: list[list[Change]] = []
    with store.transaction() as tx:
        tx.rules.add_many(_rules(3))
    store.on_commit(seen.append)
    with store.transaction() as tx:
        assert tx.rules.delete_many(["d1-r00000", "d1-r00002", "gone"]) == 2
    assert sorted((c.op, c.entity.id) for c in seen[0]) == [
        (Op.DELETED, "d1-r00000"),
        (Op.DELETED, "d1-r00002"),
    ]


def test_rule_writes_refused_on_read_snapshot(store: Store) -> None:
    with store.read() as r, pytest.raises(RuntimeError, match="read-only"):
        r.rules.set_status(["x"], RuleStatus.APPLIED)


def test_list_owned_groups_rules_by_owner(store: Store) -> None:
    with store.transaction() as tx:
        tx.rules.add_many(_rules(3) + _rules(2, device="d2", owner="service/y"))
    with store.read() as r:
        owned = r.rules.list_owned(["service/y", "service/x", "service/none"])
    assert {owner: [rule.id for rule in rules] for owner, rules in owned.items()} == {
        "service/y": ["d2-r00000", "d2-r00001"],
        "service/x": ["d1-r00000", "d1-r00001", "d1-r00002"],
        "service/none": [],
    }
