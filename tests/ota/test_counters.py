"""The counter store never hands out a value twice: across reopen, SIGKILL mid-campaign, concurrent processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mcim.errors import BadInput, StateError
from mcim.ota.counters import CounterScope, CounterStore, FixedCounter, resync_after_counter_low
from mcim.ota.errors import PorStatus
from mcim.ota.packet import MAX_CNTR
from mcim.ota.por import PorIntegrity, ResponsePacket

SCOPE = CounterScope("89490000000000000001", 1)

# A campaign worker: allocate, then "emit" (print) each value; runs until killed or `count` values.
WORKER = """
import sys
from mcim.ota.counters import CounterScope, CounterStore
store = CounterStore(sys.argv[1])
scope = CounterScope("89490000000000000001", 1)
for _ in range(int(sys.argv[2])):
    print(store.allocate(scope), flush=True)
"""


def _worker(path: Path, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(count)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def test_allocation_is_monotonic_and_persistent(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with CounterStore(path) as store:
        assert [store.allocate(SCOPE) for _ in range(3)] == [1, 2, 3]
        assert store.allocate_block(SCOPE, 5) == range(4, 9)
        assert store.peek(SCOPE) == 9
        other = CounterScope(SCOPE.card, 1, bytes.fromhex("b00001"))
        assert store.allocate(other) == 1  # per-TAR scope is its own counter
    with CounterStore(path) as store:
        assert store.allocate(SCOPE) == 9
        assert store.source(SCOPE).next_counter() == 10


def test_exhaustion_and_bad_arguments(tmp_path: Path) -> None:
    with CounterStore(tmp_path / "c.db", initial=MAX_CNTR - 1) as store:
        assert store.allocate_block(SCOPE, 2) == range(MAX_CNTR - 1, MAX_CNTR + 1)
        with pytest.raises(StateError, match="exhausted"):
            store.allocate(SCOPE)
        with pytest.raises(BadInput):
            store.allocate_block(SCOPE, 0)
    with pytest.raises(BadInput):
        CounterScope("", 1)
    with pytest.raises(BadInput):
        CounterScope("card", 16)
    assert FixedCounter(5).next_counter() == 5


def test_resynchronisation_is_forward_only_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with CounterStore(tmp_path / "c.db", clock=lambda: 1234.5) as store:
        store.allocate_block(SCOPE, 10)
        with caplog.at_level(logging.WARNING, logger="mcim.ota.counters"):
            assert store.resynchronise(SCOPE, 5, "operator says so") == 11  # never backwards
            por = ResponsePacket(b"\xb0\x00\x01", 10, PorStatus.CNTR_LOW, b"", b"", b"", True, PorIntegrity.VERIFIED)
            assert resync_after_counter_low(store, SCOPE, por, margin=100) == 110
        assert store.allocate(SCOPE) == 110
        assert [(r.old_next, r.new_next, r.at) for r in store.resyncs(SCOPE)] == [(11, 11, 1234.5), (11, 110, 1234.5)]
        assert "next 000000000b -> 000000006e" in caplog.text
        ok = ResponsePacket(b"\xb0\x00\x01", 10, PorStatus.POR_OK, b"", b"", b"", True, PorIntegrity.VERIFIED)
        with pytest.raises(StateError):
            resync_after_counter_low(store, SCOPE, ok, margin=1)
        with pytest.raises(BadInput):
            resync_after_counter_low(store, SCOPE, por, margin=0)


def test_values_never_repeat_after_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    emitted: list[int] = []
    for _ in range(3):
        worker = _worker(path, 1_000_000)
        assert worker.stdout is not None
        for _ in range(60):
            emitted.append(int(worker.stdout.readline()))
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        worker.stdout.close()
    assert len(set(emitted)) == len(emitted) and emitted == sorted(emitted)
    with CounterStore(path) as store:
        assert store.allocate(SCOPE) > max(emitted)


def test_concurrent_processes_never_share_a_value(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    CounterStore(path).close()
    workers = [_worker(path, 100) for _ in range(4)]
    values = []
    for worker in workers:
        out, _ = worker.communicate()
        assert worker.returncode == 0
        values += [int(line) for line in out.split()]
    assert len(values) == 400 and len(set(values)) == 400
    assert set(values) == set(range(1, 401))
