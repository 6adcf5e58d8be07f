"""Drive the reference UICC's Issuer Security Domain from the host library, as a GP tool would: SELECT, an SCP03
or SCP02 session opened with `Scp03Host`/`Scp02Host`, commands built by `mcim.gp.ccm` and wrapped by the
session, responses unwrapped (R-MAC checked), over the host's T=0 layer."""

from __future__ import annotations

import copy
import struct
from typing import Any

from mcim.apdu import CommandApdu
from mcim.gp.keys import KeyAlgorithm, StaticKeys
from mcim.gp.scp02 import Scp02Host
from mcim.gp.scp03 import Scp03Host
from mcim.refcard import RefCard, card_from_profile, load_profile
from mcim.refcard.isd import Isd

from .helpers import Terminal, h

ISD_AID = h("A000000151000000")
# The GlobalPlatform test key 40..4F (public; vectors file, gp_key_check_values "GP default key 4041..4F").
GP_TEST_KEY = h("404142434445464748494A4B4C4D4E4F")
TRANSPORT_KEYS = StaticKeys(0x30, GP_TEST_KEY, GP_TEST_KEY, GP_TEST_KEY)
USIM_LOAD_FILE = h("A0000000871002")  # the default profile's native USIM module
USIM_MODULE = h("A000000087100201")

Host = Scp03Host | Scp02Host


def profile(**isd: Any) -> dict[str, Any]:
    """The default profile with its `isd` section changed (a key None removes that key)."""
    doc = copy.deepcopy(load_profile())
    for key, value in isd.items():
        if value is None:
            doc["isd"].pop(key, None)
        else:
            doc["isd"][key] = value
    return doc


def key_set_spec(keys: StaticKeys, counter: int = 0) -> dict[str, Any]:
    kind = "aes" if keys.algorithm is KeyAlgorithm.AES else "des"
    return {"kvn": f"{keys.kvn:02x}", "sequence_counter": counter,
            "keys": [{"kid": kid, "type": kind, "value": value.hex()}
                     for kid, value in ((1, keys.enc), (2, keys.mac), (3, keys.dek))]}


class GpTerminal(Terminal):
    """A terminal that talks to the ISD."""

    def __init__(self, card: RefCard | None = None) -> None:
        super().__init__(card or card_from_profile())
        self.host: Host | None = None

    @property
    def isd(self) -> Isd:
        isd = Isd.of(self.card)
        assert isd is not None
        return isd

    def state(self) -> dict[str, Any]:
        return copy.deepcopy(self.card.to_state())

    def exchange(self, command: bytes) -> tuple[bytes, int]:
        response = self.t0.transmit(command)
        return response[:-2], struct.unpack(">H", response[-2:])[0]

    def select_isd(self) -> bytes:
        return self.ok(f"00A40400 08 {ISD_AID.hex()} 00")

    def open_scp03(self, keys: StaticKeys = TRANSPORT_KEYS, level: int = 0x33, *, s16: bool = False,
                   channel: int = 0) -> Scp03Host:
        host = Scp03Host(keys, sd_aid=ISD_AID, s16=s16, channel=channel)
        self._authenticate(host, level)
        return host

    def open_scp02(self, keys: StaticKeys, level: int = 0x01, *, options: int = 0x55) -> Scp02Host:
        host = Scp02Host(keys, options=options, sd_aid=ISD_AID)
        self._authenticate(host, level)
        return host

    def _authenticate(self, host: Host, level: int) -> None:
        host.process_initialize_update_response(self.t0.transmit(host.initialize_update()))
        host.process_external_authenticate_response(self.t0.transmit(host.external_authenticate(level)))
        self.host = host

    def secured(self, command: CommandApdu | bytes) -> tuple[bytes, int]:
        """One command through the open session: wrapped, sent, the response's R-MAC checked, R-ENC removed."""
        assert self.host is not None
        raw = command.to_bytes() if isinstance(command, CommandApdu) else command
        response = self.host.unwrap(self.t0.transmit(self.host.wrap(raw)))
        return response.data, response.sw

    def secured_ok(self, command: CommandApdu | bytes) -> bytes:
        data, sw = self.secured(command)
        assert sw == 0x9000, f"{sw:04X}"
        return data
