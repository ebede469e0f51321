"""What a caller asks for (`PathRequest`) and what it gets back (`Path`)."""

from __future__ import annotations

from typing import Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    computed_field,
    model_validator,
)

from netweave.model import Disjointness, Id

MAX_K = 100


class PathRequest(BaseModel):
    """Paths wanted from one device to another, and the constraints they must meet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    src_device_id: Id
    dst_device_id: Id
    bandwidth_bps: NonNegativeInt | None = Field(
        None, description="every link must have at least this much unreserved"
    )
    max_latency_ms: PositiveFloat | None = Field(None, description="sum of link latencies")
    max_hops: PositiveInt | None = Field(None, description="number of links")
    exclude_devices: tuple[Id, ...] = ()
    exclude_links: tuple[Id, ...] = ()
    k: int = Field(1, ge=1, le=MAX_K, description="how many alternative paths, best first")
    disjoint: Disjointness | None = Field(
        None, description="ask for a primary and a link- or node-disjoint backup path"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.src_device_id == self.dst_device_id:
            raise ValueError("dst_device_id: must differ from src_device_id")
        if self.disjoint is not None and self.k != 1:
            raise ValueError("k: must be 1 when disjoint is set (the answer is a pair)")
        return self


class Path(BaseModel):
    """A simple path: the devices in order and the links between them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_ids: tuple[Id, ...] = Field(min_length=2)
    link_ids: tuple[Id, ...] = Field(min_length=1)
    latency_ms: NonNegativeFloat
    cost: NonNegativeFloat

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hops(self) -> int:
        return len(self.link_ids)
