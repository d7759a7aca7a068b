"""Routing object types: autonomous systems and the netblocks they announce.

Import them from :mod:`kat.ooi`. A netblock's reference repeats its network, because
its start address's key holds the network too:
``IPV4NetBlock|internet|internet|178.128.108.228|16``.
"""

from __future__ import annotations

from typing import ClassVar

from kat.ooi.base import OOI, ooi_type, ref
from kat.ooi.network import IPAddressV4, IPAddressV6, Network

__all__ = ["AutonomousSystem", "IPV4NetBlock", "IPV6NetBlock"]


@ooi_type()
class AutonomousSystem(OOI):
    number: str
    name: str | None = None
    _natural_key_attrs: ClassVar = ("number",)

    def _normalize(self) -> None:
        if not str(self.number).isdigit():
            raise ValueError(f"AutonomousSystem.number: not a number: {self.number!r}")


class _NetBlock(OOI):
    _natural_key_attrs: ClassVar = ("network", "start_ip", "mask")
    _max_mask: ClassVar[int] = 32

    def _normalize(self) -> None:
        if not 0 <= self.mask <= self._max_mask:
            raise ValueError(f"{self.object_type}.mask: not in 0-{self._max_mask}: {self.mask}")


@ooi_type("NetBlock")
class IPV4NetBlock(_NetBlock):
    network: Network = ref("Network")
    name: str | None = None
    description: str | None = None
    announced_by: AutonomousSystem | None = ref("AutonomousSystem", default=None)
    parent: OOI | None = ref("IPV4NetBlock", default=None)
    start_ip: IPAddressV4 = ref("IPAddressV4")
    mask: int


@ooi_type("NetBlock")
class IPV6NetBlock(_NetBlock):
    network: Network = ref("Network")
    name: str | None = None
    description: str | None = None
    announced_by: AutonomousSystem | None = ref("AutonomousSystem", default=None)
    parent: OOI | None = ref("IPV6NetBlock", default=None)
    start_ip: IPAddressV6 = ref("IPAddressV6")
    mask: int
    _max_mask: ClassVar[int] = 128
