"""Shared building blocks of the data model."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$")

Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN.pattern,
        description="1-128 characters: letters, digits and . _ : @ / - (not first)",
    ),
]
Id = Annotated[str, Field(min_length=1, max_length=64)]
JsonObject = dict[str, Any]


class OperStatus(StrEnum):
    """Operational status observed on a device, port or link."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class Entity(BaseModel):
    """Base of every stored entity: strict fields, validated on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: Id
    name: Name
