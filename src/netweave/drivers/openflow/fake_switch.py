"""A small in-process OpenFlow 1.3 switch over TCP, for tests that cannot run Open vSwitch.

`FakeSwitch` connects to a controller and behaves like Open vSwitch where the driver
relies on it: hello, features, port description, echo, barrier, ONF bundles (adds
validated on arrival, applied in order on commit), flow-mods (add replaces the same
table/priority/match; strict delete honours the cookie mask), group-mods (add-or-modify,
delete), meter-mods (add fails on an existing meter), flow/group/meter/port multipart
replies, port status and packet-in. Tables are kept as the raw bytes received, so what
it reports is what the controller sent. `refuse_flows` makes it reject chosen flow-mods
with a chosen error, as a real switch rejects e.g. a match missing its prerequisite.
It is a test double: no packet forwarding, no table-miss, no timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from netweave.drivers.openflow import codec, wire

_FEATURES_REPLY: Final = 6
_PACKET_IN: Final = 10
_PORT_STATUS: Final = 12
_PACKET_OUT: Final = 13
_MULTIPART_REQUEST: Final = 18
_MULTIPART_REPLY: Final = 19
_MULTIPART_REPLY_MORE: Final = 1
_BARRIER_REPLY: Final = 21
_MP_FLOW, _MP_PORT_STATS, _MP_GROUP_DESC, _MP_METER_CONFIG, _MP_PORT_DESC = 1, 4, 7, 10, 13
_OFPET_BAD_REQUEST, _OFPBRC_BAD_TYPE, _OFPBRC_BAD_EXPERIMENTER = 1, 1, 3
_OFPET_METER_MOD_FAILED, _OFPMMFC_METER_EXISTS, _OFPMMFC_UNKNOWN_METER = 12, 1, 3
_OFPET_EXPERIMENTER: Final = 0xFFFF
_ONFERR_ET_BUNDLE_CLOSED: Final = 2304
_ONFERR_ET_MSG_UNSUP: Final = 2310
_OFPPC_PORT_DOWN, _OFPPS_LINK_DOWN = 1, 1
_PORT: Final = struct.Struct("!I4x6s2x16sIIIIIIII")
_FLOW_STATS: Final = struct.Struct("!HBxIIHHHH4xQQQ")

FlowPredicate = Callable[[Any], bool]
"""Given os-ken's decoded flow-mod, whether the switch refuses it."""


@dataclass
class FakePort:
    name: str
    up: bool = True


@dataclass
class _Flow:
    cookie: int
    idle_timeout: int
    hard_timeout: int
    match: bytes
    instructions: bytes


@dataclass
class _Refusal:
    predicate: FlowPredicate
    error_type: int
    code: int


class FakeSwitch:
    """One fake switch; `await connect(port)` then drive it from a controller."""

    def __init__(self, datapath_id: int, ports: dict[int, str]) -> None:
        self.datapath_id = datapath_id
        self.ports = {number: FakePort(name) for number, name in ports.items()}
        self.flows: dict[tuple[int, int, bytes], _Flow] = {}
        self.groups: dict[int, bytes] = {}  # group id -> type byte and buckets
        self.meters: dict[int, bytes] = {}  # meter id -> flags and bands
        self.packets_out: list[bytes] = []
        self.message_types: list[int] = []
        self.answer_echo = True
        self.bundles = True  # False: refuse the ONF bundle extension, as non-OVS switches do
        self._refusals: list[_Refusal] = []
        self._bundles: dict[int, list[bytes]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    # --- driving the fake --------------------------------------------------------------------

    async def connect(self, port: int, host: str = "127.0.0.1") -> None:
        reader, self._writer = await asyncio.open_connection(host, port)
        self._task = asyncio.create_task(self._serve(reader))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def connected(self) -> bool:
        return self._task is not None and not self._task.done()

    def refuse_flows(self, predicate: FlowPredicate, error_type: int, code: int) -> None:
        """Answer flow-mods for which `predicate` holds with error `error_type`/`code`."""
        self._refusals.append(_Refusal(predicate, error_type, code))

    def set_port(self, number: int, up: bool) -> None:
        """Change a port's link state and report it with a port-status message."""
        self.ports[number].up = up
        self._send(_PORT_STATUS, 0, struct.pack("!B7x", 2) + self._port(number))

    def packet_in(self, in_port: int, data: bytes) -> None:
        """Send a table-miss packet-in of `data` received on `in_port`."""
        match = wire.match({"in_port": in_port})
        head = struct.pack("!IHBBQ", wire.OFP_NO_BUFFER, len(data), 0, 0, 0)
        self._send(_PACKET_IN, 0, head + match + b"\0\0" + data)

    def install(self, mod: bytes) -> None:
        """Apply a flow-, group- or meter-mod as if another controller had sent it."""
        self._modify(mod)

    def flow_stats(self, cookie: int = 0, mask: int = 0) -> list[bytes]:
        """The flow-stats entries of the flows whose cookie matches `cookie` under `mask`."""
        return [
            self._flow_stats(key, flow)
            for key, flow in self.flows.items()
            if flow.cookie & mask == cookie & mask
        ]

    def send_raw(self, data: bytes) -> None:
        assert self._writer is not None, "not connected"
        self._writer.write(data)

    # --- protocol ------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader) -> None:
        self.send_raw(wire.hello(1))
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                raw = await reader.readexactly(wire.HEADER.size)
                header = wire.parse_header(raw)
                raw += await reader.readexactly(header.length - wire.HEADER.size)
                self.message_types.append(header.type)
                self._handle(header, raw)

    def _send(self, msg_type: int, xid: int, body: bytes) -> None:
        self.send_raw(wire.HEADER.pack(wire.OFP_VERSION, msg_type, 8 + len(body), xid) + body)

    def _error(self, xid: int, error_type: int, code: int, offending: bytes) -> None:
        self._send(wire.OFPT_ERROR, xid, struct.pack("!HH", error_type, code) + offending[:64])

    def _handle(self, header: wire.Header, raw: bytes) -> None:
        kind, xid, body = header.type, header.xid, raw[8:]
        if kind == wire.OFPT_ECHO_REQUEST and self.answer_echo:
            self._send(wire.OFPT_ECHO_REPLY, xid, body)
        elif kind == wire.OFPT_FEATURES_REQUEST:
            self._send(
                _FEATURES_REPLY, xid, struct.pack("!QIBB2xII", self.datapath_id, 0, 254, 0, 0, 0)
            )
        elif kind == wire.OFPT_BARRIER_REQUEST:
            self._send(_BARRIER_REPLY, xid, b"")
        elif kind == _MULTIPART_REQUEST:
            self._multipart(xid, body)
        elif kind == _PACKET_OUT:
            self.packets_out.append(raw)
        elif kind == wire.OFPT_EXPERIMENTER:
            self._bundle(xid, raw)
        elif kind in (wire.OFPT_FLOW_MOD, wire.OFPT_GROUP_MOD, wire.OFPT_METER_MOD):
            error = self._refusal(raw) or self._modify(raw)
            if error:
                self._error(xid, *error, raw)
        elif kind not in (wire.OFPT_HELLO, wire.OFPT_ECHO_REPLY, wire.OFPT_ECHO_REQUEST):
            self._error(xid, _OFPET_BAD_REQUEST, _OFPBRC_BAD_TYPE, raw)

    def _refusal(self, raw: bytes) -> tuple[int, int] | None:
        if raw[1] != wire.OFPT_FLOW_MOD:
            return None
        mod = codec.decode(wire.parse_header(raw[:8]), raw)
        for refusal in self._refusals:
            if refusal.predicate(mod):
                return refusal.error_type, refusal.code
        return None

    def _modify(self, raw: bytes) -> tuple[int, int] | None:
        """Apply a flow-, group- or meter-mod; the (type, code) of its error if it fails."""
        kind = raw[1]
        if kind == wire.OFPT_FLOW_MOD:
            self._flow_mod(raw)
        elif kind == wire.OFPT_GROUP_MOD:
            command, group_id = struct.unpack_from("!H2xI", raw, 8)
            if command == wire.OFPGC_DELETE:
                self.groups.pop(group_id, None)
            else:
                self.groups[group_id] = raw[10:11] + raw[16:]
        else:
            command, meter_id = struct.unpack_from("!H2xI", raw, 8)
            exists = meter_id in self.meters
            if command == wire.OFPMC_ADD and exists:
                return _OFPET_METER_MOD_FAILED, _OFPMMFC_METER_EXISTS
            if command == wire.OFPMC_MODIFY and not exists:
                return _OFPET_METER_MOD_FAILED, _OFPMMFC_UNKNOWN_METER
            if command == wire.OFPMC_DELETE:
                self.meters.pop(meter_id, None)
            else:
                self.meters[meter_id] = raw[10:12] + raw[16:]
        return None

    def _flow_mod(self, raw: bytes) -> None:
        cookie, mask, table, command, idle, hard, priority = struct.unpack_from("!QQBBHHH", raw, 8)
        (match_len,) = struct.unpack_from("!H", raw, 50)
        match_end = 48 + (match_len + 7) // 8 * 8
        key = (table, priority, raw[48:match_end])
        if command == wire.OFPFC_ADD:
            self.flows[key] = _Flow(cookie, idle, hard, raw[48:match_end], raw[match_end:])
        elif command == wire.OFPFC_DELETE_STRICT:
            flow = self.flows.get(key)
            if flow is not None and flow.cookie & mask == cookie & mask:
                del self.flows[key]

    def _bundle(self, xid: int, raw: bytes) -> None:
        experimenter, exp_type, bundle_id = struct.unpack_from("!III", raw, 8)
        if experimenter != wire.ONF_EXPERIMENTER_ID or not self.bundles:
            self._error(xid, _OFPET_BAD_REQUEST, _OFPBRC_BAD_EXPERIMENTER, raw)
            return
        if exp_type == wire.ONF_ET_BUNDLE_ADD_MESSAGE:
            inner = raw[24:]
            if bundle_id not in self._bundles:
                self._experimenter_error(xid, _ONFERR_ET_BUNDLE_CLOSED, raw)
            elif inner[1] == wire.OFPT_METER_MOD:
                self._experimenter_error(xid, _ONFERR_ET_MSG_UNSUP, raw)
            elif error := self._refusal(inner):
                self._error(xid, *error, inner)
            else:
                self._bundles[bundle_id].append(inner)
            return
        (control,) = struct.unpack_from("!H", raw, 20)
        if control == wire.BUNDLE_OPEN:
            self._bundles[bundle_id] = []
        elif control == wire.BUNDLE_COMMIT:
            for inner in self._bundles.pop(bundle_id, []):
                self._modify(inner)
        else:
            self._bundles.pop(bundle_id, None)
        reply = raw[8:20] + struct.pack("!HH", control + 1, 0)
        self._send(wire.OFPT_EXPERIMENTER, xid, reply)

    def _experimenter_error(self, xid: int, exp_type: int, offending: bytes) -> None:
        head = struct.pack("!HHI", _OFPET_EXPERIMENTER, exp_type, wire.ONF_EXPERIMENTER_ID)
        self._send(wire.OFPT_ERROR, xid, head + offending[:64])

    # --- multipart -------------------------------------------------------------------------------

    def _multipart(self, xid: int, body: bytes) -> None:
        (mp_type,) = struct.unpack_from("!H", body)
        if mp_type == _MP_PORT_DESC:
            entries = [self._port(number) for number in sorted(self.ports)]
        elif mp_type == _MP_FLOW:
            cookie, mask = struct.unpack_from("!QQ", body, 24)
            entries = self.flow_stats(cookie, mask)
        elif mp_type == _MP_GROUP_DESC:
            entries = [
                struct.pack("!HBxI", 8 + len(desc) - 1, desc[0], group_id) + desc[1:]
                for group_id, desc in sorted(self.groups.items())
            ]
        elif mp_type == _MP_METER_CONFIG:
            entries = [
                struct.pack("!H", 8 + len(config) - 2)
                + config[:2]
                + struct.pack("!I", meter_id)
                + config[2:]
                for meter_id, config in sorted(self.meters.items())
            ]
        elif mp_type == _MP_PORT_STATS:
            entries = [struct.pack("!I4x12QII", n, *(12 * [0]), 0, 0) for n in sorted(self.ports)]
        else:
            self._error(xid, _OFPET_BAD_REQUEST, _OFPBRC_BAD_TYPE, body)
            return
        while True:  # as many messages as the 64 KiB length field needs
            size, count = 16, 0
            while count < len(entries) and size + len(entries[count]) <= 0xFFFF:
                size += len(entries[count])
                count += 1
            part, entries = entries[:count], entries[count:]
            more = _MULTIPART_REPLY_MORE if entries else 0
            self._send(_MULTIPART_REPLY, xid, struct.pack("!HH4x", mp_type, more) + b"".join(part))
            if not entries:
                return

    def _port(self, number: int) -> bytes:
        port = self.ports[number]
        down = 0 if port.up else _OFPPS_LINK_DOWN
        mac = bytes([2, 0, 0, 0, number >> 8 & 0xFF, number & 0xFF])
        return _PORT.pack(number, mac, port.name.encode(), 0, down, 0, 0, 0, 0, 10**7, 10**7)

    @staticmethod
    def _flow_stats(key: tuple[int, int, bytes], flow: _Flow) -> bytes:
        table, priority, _ = key
        body = flow.match + flow.instructions
        head = _FLOW_STATS.pack(
            _FLOW_STATS.size + len(body), table, 0, 0, priority, flow.idle_timeout,
            flow.hard_timeout, 0, flow.cookie, 0, 0,
        )  # fmt: skip
        return head + body
