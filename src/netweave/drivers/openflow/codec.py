"""os-ken's OpenFlow 1.3 parser used as a codec library (no os-ken app, no eventlet).

Decodes the messages a session reacts to (errors, features reply, packet-in) and builds
the cold-path requests (features, multipart, packet-out). The hot and bulky paths are
`wire` (encoding flow-, group-, meter-mods and bundles) and `readback` (decoding tables).
"""

from __future__ import annotations

import re
from typing import Any, Final

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from netweave.drivers.openflow.wire import Header, ProtocolError

_PACKET_IN_REASONS: Final = {0: "no_match", 1: "action", 2: "invalid_ttl"}
_NUMBERED: Final = re.compile(r"\(\d+\)$")


class _Datapath:
    """The two attributes os-ken's message classes read from a datapath."""

    ofproto = ofp
    ofproto_parser = parser


_DATAPATH: Final = _Datapath()


def decode(header: Header, raw: bytes) -> Any:
    """The os-ken message for the complete message `raw`; `ProtocolError` if malformed."""
    try:
        return ofproto_parser.msg(
            _DATAPATH, header.version, header.type, header.length, header.xid, raw
        )
    except Exception as exc:  # os-ken raises anything from struct.error to KeyError
        raise ProtocolError(f"malformed message of type {header.type}: {exc!r}") from exc


def encode(msg: Any, xid: int) -> bytes:
    msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


def error_name(error_type: int, code: int) -> str:
    """``<type name>/<code name>`` of an error, e.g. ``OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ``."""
    text = ofp.ofp_error_to_jsondict(error_type, code)
    type_name = _NUMBERED.sub("", text["type"])
    code_name = _NUMBERED.sub("", text["code"])
    if type_name == "Unknown":
        return f"error type {error_type} code {code}"
    return f"{type_name}/{code_name if code_name != 'Unknown' else code}"


def describe_error(msg: Any) -> str:
    """The switch's reason in an error message, naming ONF experimenter errors too."""
    if msg.type == ofp.OFPET_EXPERIMENTER:
        names = {v: k for k, v in vars(ofp).items() if k.startswith("ONFERR_ET_")}
        return f"OFPET_EXPERIMENTER/{names.get(msg.exp_type, msg.exp_type)}"
    return error_name(msg.type, msg.code)


# --- requests ------------------------------------------------------------------------------


def port_desc_request() -> Any:
    return parser.OFPPortDescStatsRequest(_DATAPATH)


def features_request() -> Any:
    return parser.OFPFeaturesRequest(_DATAPATH)


def flow_stats_request(cookie: int, cookie_mask: int) -> Any:
    return parser.OFPFlowStatsRequest(_DATAPATH, cookie=cookie, cookie_mask=cookie_mask)


def port_stats_request() -> Any:
    return parser.OFPPortStatsRequest(_DATAPATH)


def group_desc_request() -> Any:
    return parser.OFPGroupDescStatsRequest(_DATAPATH)


def meter_stats_request() -> Any:
    return parser.OFPMeterStatsRequest(_DATAPATH)


def meter_config_request() -> Any:
    return parser.OFPMeterConfigStatsRequest(_DATAPATH)


def packet_out(port: int, data: bytes, in_port: int = ofp.OFPP_CONTROLLER) -> Any:
    return parser.OFPPacketOut(
        _DATAPATH,
        buffer_id=ofp.OFP_NO_BUFFER,
        in_port=in_port,
        actions=[parser.OFPActionOutput(port, 0)],
        data=data,
    )


def table_packet_out(in_port: int, data: bytes) -> Any:
    """A packet-out that runs `data` through the flow tables as if it came in on `in_port`."""
    return packet_out(ofp.OFPP_TABLE, data, in_port)


def packet_in_reason(reason: int) -> str:
    return _PACKET_IN_REASONS.get(reason, str(reason))
