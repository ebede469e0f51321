"""Connectivity services: intents turned into connections and per-device config rules.

Point-to-point (E-Line) services, optionally protected by a disjoint backup path with
fast-failover groups, multipoint L2VPNs (E-LAN) and routed L3VPNs among host subnets,
isolated by VLANs tagged in the switches and metered by OpenFlow meters.

`Provisioning` runs one level-triggered step of a service inside a store transaction
(route, reservation, VLAN, rules, status); `ServiceReconciler` runs those steps whenever
a service, its rules or its links change. Services write desired rules only; the
controller's device manager applies them and reports back through the store.
"""

from netweave.services.base import SERVICE_PRIORITY, owner_of, service_of
from netweave.services.errors import Infeasible, ProvisionError, ResourceConflict
from netweave.services.provisioning import WAITING_FOR_ENDPOINTS, Provisioning, connection_id
from netweave.services.reconciler import ServiceReconciler

__all__ = [
    "SERVICE_PRIORITY",
    "WAITING_FOR_ENDPOINTS",
    "Infeasible",
    "ProvisionError",
    "Provisioning",
    "ResourceConflict",
    "ServiceReconciler",
    "connection_id",
    "owner_of",
    "service_of",
]
