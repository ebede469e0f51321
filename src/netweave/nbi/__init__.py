"""Northbound models of other standards, translated onto netweave's own.

`L2vpnNbi` serves the IETF L2VPN service model (RFC 8466 subset) that OSM's
``ietfl2vpn`` WIM connector speaks; its refusals are `RestconfError`s.
"""

from netweave.nbi.l2vpn import L2vpnNbi
from netweave.nbi.restconf import MEDIA_TYPE, RestconfError, invalid_payload

__all__ = ["MEDIA_TYPE", "L2vpnNbi", "RestconfError", "invalid_payload"]
