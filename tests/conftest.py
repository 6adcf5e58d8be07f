"""Shared fixtures. Known answers come from ../shared/vectors (public sources, with provenance), never from the
code under test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# The PC/SC harness (private pcscd + vpcd virtual cards) serves every test folder that needs a reader.
pytest_plugins = ["tests.pcsc_harness"]

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MCIM_SHARED", REPO.parent / "shared"))


def load_vectors() -> dict:
    """The public vectors file; usable at import time for parametrisation."""
    return json.loads((SHARED / "vectors" / "public-vectors.json").read_text())


@pytest.fixture(scope="session")
def vectors() -> dict:
    return load_vectors()
