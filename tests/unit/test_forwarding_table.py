from __future__ import annotations

from netweave.controller.discovery import Attachment
from netweave.controller.forwarding import forwarding_table
from netweave.model import Device, EndpointRef, Link, OperStatus


def _ring(
    n: int, down: frozenset[int] = frozenset()
) -> tuple[list[Device], list[Link], dict[str, int]]:
    """Switches s0..s(n-1) in a ring; port 1 goes to the next switch, port 2 to the previous."""
    switches = [Device(id=f"s{i}", name=f"s{i}") for i in range(n)]
    links, ports = [], {}
    for i in range(n):
        j = (i + 1) % n
        ports[f"s{i}-p1"], ports[f"s{j}-p2"] = 1, 2
        links.append(
            Link(
                id=f"l{i}",
                name=f"l{i}",
                a=EndpointRef(device_id=f"s{i}", endpoint_id=f"s{i}-p1"),
                b=EndpointRef(device_id=f"s{j}", endpoint_id=f"s{j}-p2"),
                status=OperStatus.DOWN if i in down else OperStatus.UP,
            )
        )
    return switches, links, ports


def test_each_switch_points_along_the_shortest_path_to_the_host() -> None:
    switches, links, ports = _ring(6)
    table = forwarding_table(switches, links, ports, {"h": Attachment("s0", 9)})
    assert table[("s0", "h")] == 9
    assert [table[(f"s{i}", "h")] for i in (1, 2)] == [2, 2]  # backwards is shorter
    assert [table[(f"s{i}", "h")] for i in (4, 5)] == [1, 1]  # forwards is shorter
    assert ("s3", "h") in table


def test_down_link_is_avoided_and_unreachable_switches_get_no_rule() -> None:
    switches, links, ports = _ring(4, down=frozenset({0}))  # s0 -x- s1
    table = forwarding_table(switches, links, ports, {"h": Attachment("s0", 9)})
    assert table[("s1", "h")] == 1  # the long way round: s1 -> s2 -> s3 -> s0
    switches, links, ports = _ring(4, down=frozenset({0, 1}))
    table = forwarding_table(switches, links, ports, {"h": Attachment("s0", 9)})
    assert ("s1", "h") not in table


def test_host_on_unknown_switch_is_skipped() -> None:
    switches, links, ports = _ring(3)
    assert forwarding_table(switches, links, ports, {"h": Attachment("x", 1)}) == {}
