"""jCardSim fixtures: the applets' Maven build, and jCardSim running them on the private pcscd's spare vpcd slot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest
from mcim.errors import TransportError
from mcim.transport.jcardsim import JavaCardBuild, JCardSimProcess, locate_build, mcim_applets, new_perso_keys

from tests.pcsc_harness import PrivatePcscd, unavailable

SLOT = 1  # slot 0 holds the harness's echo card for the whole session


class JCardSim(NamedTuple):
    """A running jCardSim (a Transport) and the personalisation keys its applets were created with."""

    card: JCardSimProcess
    mcim_perso_key: bytes
    bootstrap_perso_key: bytes


@pytest.fixture(scope="session")
def applet_build() -> JavaCardBuild:
    try:
        return locate_build()
    except TransportError as exc:
        unavailable(f"jCardSim tests need the applet build: {exc}")


def start_jcardsim(pcscd: PrivatePcscd, build: JavaCardBuild, extra_applets=()) -> JCardSim:
    keys = new_perso_keys()
    process = JCardSimProcess(build.classpath, pcscd.slot_port(SLOT), applets=(*mcim_applets(*keys), *extra_applets),
                              reader=pcscd.reader(SLOT), timeout=5.0)
    process.start()
    return JCardSim(process, *keys)


@pytest.fixture(scope="module")
def jcardsim(pcscd: PrivatePcscd, applet_build: JavaCardBuild) -> Iterator[JCardSim]:
    """jCardSim with the MCIM and the bootstrap applet created, not personalised, for one test module."""
    running = start_jcardsim(pcscd, applet_build)
    try:
        yield running
    finally:
        running.card.stop()
