"""Shared fixtures. Known answers come from ../shared/vectors (public sources, with provenance), never from the
code under test."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MCIM_SHARED", REPO.parent / "shared"))


def load_vectors() -> dict:
    """The public vectors file; usable at import time for parametrisation."""
    return json.loads((SHARED / "vectors" / "public-vectors.json").read_text())


@pytest.fixture(scope="session")
def vectors() -> dict:
    return load_vectors()
