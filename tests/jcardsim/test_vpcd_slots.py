"""Finding vpcd slots: reader.conf entries (pcsc-lite reader.conf(5), vsmartcard ifd-vpcd.c port parsing) and
pcscd's reader names."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mcim.transport.vpcd_slots import VpcdReader, VpcdSlot, parse_reader_conf, read_reader_conf, vpcd_slots

# Debian's /etc/reader.conf.d/vpcd as the vsmartcard-vpcd package installs it.
DEBIAN = """FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so
CHANNELID    0x8C7B
"""
# libccid's example entry for a serial reader, all commented out, then two live entries.
MIXED = """# example
#DEVICENAME        /dev/ttySn[:reader]
#FRIENDLYNAME      "GemPCTwin serial"
FRIENDLYNAME "GemPC Twin"
DEVICENAME /dev/ttyS0
LIBPATH /usr/lib/pcsc/drivers/serial/libccidtwin.so
FRIENDLYNAME "second vpcd"   # decimal port
DEVICENAME /dev/null:20000
LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so
FRIENDLYNAME "third vpcd"
DEVICENAME /dev/null
LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so
"""


def test_debian_entry():
    assert parse_reader_conf(DEBIAN) == [VpcdReader("Virtual PCD", 35963)]


def test_other_drivers_decimal_ports_and_the_default_port():
    assert parse_reader_conf(MIXED) == [VpcdReader("second vpcd", 20000), VpcdReader("third vpcd", 35963)]


def test_octal_port_as_strtoul_reads_it():
    assert parse_reader_conf(DEBIAN.replace("0x8C7B", "0100", 1)) == [VpcdReader("Virtual PCD", 64)]


def test_slots_by_reader_name():
    readers = ["Gemalto PC Twin Reader 00 00", "Virtual PCD 01 00", "Virtual PCD 01 01", "Virtual PCD extra"]
    assert vpcd_slots(readers, parse_reader_conf(DEBIAN)) == [
        VpcdSlot("Virtual PCD 01 00", 35963), VpcdSlot("Virtual PCD 01 01", 35964)]


def test_read_reader_conf(tmp_path):
    (tmp_path / "vpcd").write_text(DEBIAN)
    (tmp_path / "libccidtwin").write_text(MIXED)
    assert read_reader_conf(tmp_path) == [VpcdReader("second vpcd", 20000), VpcdReader("third vpcd", 35963),
                                          VpcdReader("Virtual PCD", 35963)]
    assert read_reader_conf(tmp_path / "missing") == []


@given(st.text())
def test_any_text_parses_to_entries(text):
    assert all(isinstance(entry, VpcdReader) and entry.port >= 0 for entry in parse_reader_conf(text))
