"""The `jcardsim` target: mcim's Java Card applets (applet-spec/javacard) on jCardSim, in a vpcd slot of a running
pcscd, personalised for the run.

jCardSim's vsmartcard client only talks to vpcd, so the target needs pcscd with the vsmartcard-vpcd driver.  The
slot is the one `--reader` names, or the first vpcd slot without a card.  Then, in order:
1. jCardSim starts there with the MCIM and the bootstrap applet created (`mcim.transport.jcardsim`), each
   given a personalisation key (KPERSO) drawn for this run and never shown;
2. both are personalised by STORE DATA (`mcim.perso`) to mirror a reference UICC profile (the default one,
   applet-spec/profiles/default.yaml, holds TEST VALUES only): the MCIM gets its USIM's identity (IMSI 001-01...,
   the public K/OPc of pySim's sysmocom AUTHENTICATE example, files, SQN policy), so that both targets answer
   the same challenges; the bootstrap applet gets its ISD's OTA TARs and minimum security level, and its AES
   SCP80 key set, or random keys nobody knows when it has none (the default profile has none);
3. the card is reset, so a script starts from a fresh card as it does on the reference UICC.
"""

from __future__ import annotations

from pathlib import Path

from .errors import BadInput, ExpectationFailed, TransportError
from .perso import BootstrapPersonalisation, McimPersonalisation, bootstrap_from_refcard, mcim_from_refcard
from .sw import describe
from .transport.base import Transport
from .transport.jcardsim import BOOTSTRAP_AID, MCIM_AID, JCardSimProcess, locate_build, mcim_applets, new_perso_keys
from .transport.pcsc import list_readers, select_reader
from .transport.vpcd_slots import (
    DEFAULT_READER_CONF,
    VPCD_DEFAULT_PORT,
    VpcdReader,
    VpcdSlot,
    card_present,
    read_reader_conf,
    vpcd_slots,
)

WHERE = "--target jcardsim"
PCSCD_HINT = ("a running pcscd with the vsmartcard-vpcd driver (Debian: apt install pcscd vsmartcard-vpcd, then "
              "systemctl start pcscd or pcscd --foreground); vpcd's slots then show as 'Virtual PCD 00 0n'")
# Debian's /etc/reader.conf.d/vpcd, for when that directory cannot be read.
DEBIAN_VPCD = VpcdReader("Virtual PCD", VPCD_DEFAULT_PORT)
SW_OK = 0x9000


def open_jcardsim(reader: str | None = None, *, port: int | None = None, profile: str | Path | None = None,
                  reader_conf: Path = DEFAULT_READER_CONF, timeout: float = 5.0) -> JCardSimProcess:
    """jCardSim in a vpcd slot, its applets personalised to mirror `profile` (see the module notes); close()
    stops it."""
    from mcim.refcard import open_card

    reference = open_card(None if profile is None else str(profile))
    subscription, ota = mcim_from_refcard(reference), bootstrap_from_refcard(reference)
    build = locate_build()
    slot = find_slot(reader, port, reader_conf)
    mcim_key, bootstrap_key = new_perso_keys()
    card = JCardSimProcess(build.classpath, slot.port, applets=mcim_applets(mcim_key, bootstrap_key),
                           reader=slot.reader, timeout=timeout)
    card.start()
    try:
        personalise(card, MCIM_AID, subscription, mcim_key)
        personalise(card, BOOTSTRAP_AID, ota, bootstrap_key)
        card.reset()
    except BaseException:
        card.stop()
        raise
    return card


def personalise(card: Transport, aid: bytes, data: McimPersonalisation | BootstrapPersonalisation,
                perso_key: bytes) -> None:
    """SELECT the applet instance and send its STORE DATA chain; every command must be answered 9000."""
    select = bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid
    for step, command in [("SELECT", select)] + [
            (f"STORE DATA block {c.p2}", c.to_bytes()) for c in data.commands(perso_key)]:
        sw = int.from_bytes(card.transmit(command)[-2:], "big")
        if sw != SW_OK:
            raise ExpectationFailed(f"{step} answered {sw:04X} ({describe(sw).meaning})",
                                    where=f"personalisation of {aid.hex().upper()}", expected="9000")


def find_slot(reader: str | None, port: int | None, reader_conf: Path = DEFAULT_READER_CONF) -> VpcdSlot:
    """The vpcd slot to use: the one `reader` names (its port from reader.conf.d unless `port` is given), the
    one listening on `port`, or the first without a card."""
    try:
        readers = list_readers()
    except TransportError as exc:
        raise TransportError(exc.message, where=WHERE, expected=PCSCD_HINT) from exc
    slots = vpcd_slots(readers, read_reader_conf(reader_conf) or [DEBIAN_VPCD])
    if reader is not None:
        name = select_reader(reader, readers)
        port = port if port is not None else next((slot.port for slot in slots if slot.reader == name), None)
        if port is None:
            raise BadInput(f"no vpcd port known for reader {name!r}", where=WHERE,
                           expected=f"a vpcd reader of {reader_conf}, or jcardsim:port=N")
        chosen = VpcdSlot(name, port)
    else:
        chosen = _free_slot(slots, port)
    if card_present(chosen.reader):
        raise TransportError(f"reader {chosen.reader!r} already holds a card", where=WHERE,
                             expected="an empty vpcd slot")
    return chosen


def _free_slot(slots: list[VpcdSlot], port: int | None) -> VpcdSlot:
    if not slots:
        raise TransportError("pcscd lists no vpcd reader", where=WHERE, expected=PCSCD_HINT)
    if port is not None:
        match = [slot for slot in slots if slot.port == port]
        if not match:
            raise BadInput(f"no vpcd slot on port {port}", where=WHERE,
                           expected="one of " + ", ".join(f"{s.port} ({s.reader})" for s in slots))
        return match[0]
    free = next((slot for slot in slots if not card_present(slot.reader)), None)
    if free is None:
        raise TransportError("every vpcd slot holds a card", where=WHERE,
                             expected="a free slot: " + ", ".join(slot.reader for slot in slots))
    return free
