"""Writing the `.apdu` scripts the workflows produce (grammar: apdu/README.md), in its canonical layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..apdu import CommandApdu
from ..fileio import write_atomic


def apdu_text(apdu: CommandApdu) -> str:
    """`CLA INS P1 P2 [Lc DATA] [[Le]]`, the layout `mcim script convert --to apdu` writes."""
    raw = apdu.to_bytes()
    header = " ".join(f"{b:02X}" for b in raw[:4])
    body = raw[4:]
    le = b""
    if apdu.le is not None:
        width = (3 if not apdu.data else 2) if apdu.is_extended else 1
        body, le = body[:-width], body[-width:]
    if apdu.data:
        lc_width = 3 if apdu.is_extended else 1
        header += f" {body[:lc_width].hex().upper()} {apdu.data.hex().upper()}"
    return header + (f" [{le.hex().upper()}]" if le else "")


@dataclass
class ScriptWriter:
    """Accumulates statements; `write` puts the script on disk atomically."""

    lines: list[str] = field(default_factory=list)

    def comment(self, text: str) -> ScriptWriter:
        self.lines.extend(f"# {line}".rstrip() for line in text.splitlines())
        return self

    def section(self, title: str) -> ScriptWriter:
        self.lines += ["", f"section {title}"]
        return self

    def step(self, title: str) -> ScriptWriter:
        self.lines += ["", f"step {title}"]
        return self

    def directive(self, name: str, *words: str, **options: str | int) -> ScriptWriter:
        opts = [f"{key.replace('_', '-')}={value}" for key, value in options.items()]
        self.lines.append(" ".join([f".{name}", *words, *opts]))
        return self

    def command(self, apdu: CommandApdu, sw: str = "9000", data: bytes | str | None = None,
                note: str | None = None) -> ScriptWriter:
        expect = f" => {sw}"
        if data is not None:
            expect += " data " + (data.hex().upper() if isinstance(data, bytes) else data)
        self.lines.append(apdu_text(apdu) + expect + (f"  # {note}" if note else ""))
        return self

    def raw(self, line: str) -> ScriptWriter:
        self.lines.append(line)
        return self

    def text(self) -> str:
        return "\n".join(self.lines).lstrip("\n") + "\n"

    def write(self, path: str | Path, *, durable: bool = True) -> Path:
        return write_atomic(Path(path), self.text(), durable=durable)
