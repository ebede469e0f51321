"""Command lines for namespaces, veths, addresses and rate limits (iproute2, ethtool).

Most are lines for ``ip -batch -`` so that a whole lab needs a handful of processes.
"""

from __future__ import annotations

from collections.abc import Iterable

from netweave.lab.plan import End, HostPlan, LinkPlan

TBF_LATENCY = "50ms"
TBF_MIN_BURST_BYTES = 4096


def ip_batch(netns: str | None = None, *, force: bool = False) -> list[str]:
    """``ip -batch -`` in `netns` (root when None); `force` goes on past errors."""
    return ["ip", *(["-n", netns] if netns else []), *(["-force"] if force else []), "-batch", "-"]


def netns_pids(netns: str) -> list[str]:
    return ["ip", "netns", "pids", netns]


def netns_exec(netns: str, argv: Iterable[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv]


def veth_line(link: LinkPlan) -> str:
    """Create the veth pair of `link`, each end straight in its namespace."""
    a, b = link.ends
    return f"link add {a.ifname}{_in(a)} type veth peer name {b.ifname}{_in(b)}"


def root_end_lines(end: End) -> list[str]:
    """Bring up a switch-side end (with its MAC when the descriptor gives one)."""
    lines = [f"link set dev {end.ifname} address {end.mac}"] if end.mac else []
    return [*lines, f"link set dev {end.ifname} up"]


def host_lines(host: HostPlan, ends: Iterable[End]) -> list[str]:
    """Configure `host`'s namespace: loopback, its ends, its address and default route."""
    lines = ["link set dev lo up"]
    for end in ends:
        if end.mac:
            lines.append(f"link set dev {end.ifname} address {end.mac}")
        lines.append(f"link set dev {end.ifname} up")
    if host.ip and host.ifname:
        lines.append(f"address add {host.ip} dev {host.ifname}")
        if host.gateway:
            lines.append(f"route add default via {host.gateway} dev {host.ifname}")
    return lines


def checksum_offload_off(netns: str, ifname: str) -> list[str]:
    """Make the kernel fill in TCP/UDP checksums of a host's packets itself.

    The userspace datapath forwards packets as they are; with offload on, a veth hands
    them over with the checksum left to a NIC that does not exist, and TCP breaks.
    """
    return netns_exec(netns, ["ethtool", "-K", ifname, "tx", "off"])


def rate_limit(end: End, rate_bps: int) -> list[str]:
    """A token-bucket filter on `end`'s egress: at most `rate_bps` bits per second."""
    burst = max(rate_bps // 800, TBF_MIN_BURST_BYTES)  # 10 ms of traffic
    namespace = ["-n", end.netns] if end.netns else []
    return [
        "tc",
        *namespace,
        "qdisc",
        "replace",
        "dev",
        end.ifname,
        "root",
        "tbf",
        "rate",
        f"{rate_bps}bit",
        "burst",
        str(burst),
        "latency",
        TBF_LATENCY,
    ]


def netns_add_line(netns: str) -> str:
    return f"netns add {netns}"


def netns_delete_line(netns: str) -> str:
    return f"netns delete {netns}"


def link_delete_line(ifname: str) -> str:
    return f"link delete dev {ifname}"


def _in(end: End) -> str:
    return f" netns {end.netns}" if end.netns else ""
