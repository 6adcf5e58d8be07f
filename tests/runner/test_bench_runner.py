"""Host overhead of the script runner, measured with pytest-benchmark (no timed assertions): parsing a script,
and running it against a card that answers at once (so the time is the runner's, not the card's)."""

from mcim.runner import run_script
from mcim.script import parse_script, resolve_includes

COMMANDS = 200
TEXT = "".join(f"step s{k}\n00 B0 00 00 [08] => 9000 data 01 02 XX ...\ncapture C{k} = data[0:2]\n"
               for k in range(COMMANDS))


class InstantCard:
    def transmit(self, command):
        return b"\x01\x02\x03\x04\x05\x06\x07\x08\x90\x00"

    def reset(self):
        return b"\x3b\x00"

    def close(self):
        pass


def test_bench_parse(benchmark):
    script = benchmark(parse_script, TEXT, "bench.apdu")
    assert len(script.statements) == 3 * COMMANDS


def test_bench_run(benchmark):
    loaded = resolve_includes(parse_script(TEXT, "bench.apdu"))
    result = benchmark(run_script, loaded, InstantCard())
    assert result.passed and len(result.trace) == COMMANDS
