"""Typed statistics read from a switch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, NonNegativeFloat, NonNegativeInt


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlowStats(_Frozen):
    """Counters of one netweave flow, keyed like its `ConfigRule`."""

    key: str
    table_id: NonNegativeInt
    priority: NonNegativeInt
    packets: NonNegativeInt
    bytes: NonNegativeInt
    duration_s: NonNegativeFloat


class PortStats(_Frozen):
    """Counters of one port."""

    port: NonNegativeInt
    rx_packets: NonNegativeInt
    tx_packets: NonNegativeInt
    rx_bytes: NonNegativeInt
    tx_bytes: NonNegativeInt
    rx_dropped: NonNegativeInt
    tx_dropped: NonNegativeInt
    rx_errors: NonNegativeInt
    tx_errors: NonNegativeInt


class MeterStats(_Frozen):
    """Counters of one meter; `dropped_*` add up its drop bands."""

    meter_id: NonNegativeInt
    flow_count: NonNegativeInt
    packets_in: NonNegativeInt
    bytes_in: NonNegativeInt
    dropped_packets: NonNegativeInt
    dropped_bytes: NonNegativeInt
