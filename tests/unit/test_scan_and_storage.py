"""The parallel packet scan (intervals, merging overlapping scans, gaps) and LocalStorage (names stay inside)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from splitstitch import scan
from splitstitch.ffmpeg import Completed
from splitstitch.frames import PacketRow
from splitstitch.scan import ScanGapError, intervals, merge, scan_packets
from splitstitch.source import MediaSource
from splitstitch.storage import LocalStorage, get_json, put_json


@pytest.mark.parametrize(
    ("duration", "parallel", "expected"),
    [
        (None, 4, [(None, None)]),
        (600.0, 1, [(None, None)]),
        (29.0, 4, [(None, None)]),  # shorter than MIN_INTERVAL_S: one pass
        (120.0, 4, [(None, 30.0), (30.0, 60.0), (60.0, 90.0), (90.0, None)]),
        (40.0, 8, [(None, 20.0), (20.0, None)]),  # never under half MIN_INTERVAL_S per interval
    ],
)
def test_intervals(duration: float | None, parallel: int, expected: list) -> None:
    assert intervals(duration, parallel) == expected


def row(pts: int, pos: int | str, size: int = 50) -> tuple[str, str, str, str, str]:
    return (str(pts), "1", "K_" if pts == 0 else "__", str(pos), str(size))


def test_merge_keeps_each_packet_once_in_file_order() -> None:
    first = {0: [row(0, 100), row(1, 150)], 1: [row(0, 200, 10)]}
    second = {0: [row(2, 210), row(1, 150)], 1: [row(1, 260, 10), row(0, 200, 10)]}
    assert merge([first, second]) == {0: [row(0, 100), row(1, 150), row(2, 210)], 1: [row(0, 200, 10), row(1, 260, 10)]}


def test_rows_without_position_are_kept_once_after_the_others() -> None:
    first = {0: [row(5, "N/A"), row(0, 100)]}
    second = {0: [row(5, "N/A"), row(6, "N/A"), row(1, 120)]}
    assert merge([first, second]) == {0: [row(0, 100), row(1, 120), row(5, "N/A"), row(6, "N/A")]}


def test_scans_that_touch_are_merged_and_a_gap_is_an_error() -> None:
    assert merge([{0: [row(0, 0, 100)]}, {0: [row(1, 100)]}]) == {0: [row(0, 0, 100), row(1, 100)]}
    with pytest.raises(ScanGapError, match="scan intervals 1 and 2 leave bytes 250-500 unread"):
        merge([{0: [row(0, 0, 100)]}, {0: [row(1, 100, 150)]}, {0: [row(2, 500)]}])


def test_scan_packets_runs_one_ffprobe_per_interval_and_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    source = MediaSource.remote("http://127.0.0.1:9/in.mp4", "in.mp4", 10**6)
    calls: list[list[str]] = []

    def fake(args: list[str], timeout: float) -> Completed:
        calls.append(args)
        start = 0 if "-read_intervals" not in args or args[1].startswith("%") else 1
        lines = [f"stream_index=0|pts={p}|duration=1|flags=__|pos={100 * p}|size=100" for p in (start, start + 1)]
        return Completed(args, "\n".join(lines), f"warning {start}")

    monkeypatch.setattr(scan, "run_ffprobe", fake)
    rows, errors = scan_packets(source, [0, 1], 60.0, parallel=2, duration=60.0)
    assert sorted(a[1] for a in calls) == ["%35.000", "30.000%"]
    assert rows == {0: [PacketRow("0", "1", "__", "0", "100"), PacketRow("1", "1", "__", "100", "100"),
                        PacketRow("2", "1", "__", "200", "100")], 1: []}  # fmt: skip
    assert errors == "warning 0\nwarning 1"


# ------------------------------------------------------------------------------------------------ storage


def test_local_storage_round_trips_bytes_ranges_files_and_json(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "store")
    store.put_bytes("segments/00001.m4s", b"0123456789")
    assert store.get_bytes("segments/00001.m4s") == b"0123456789"
    assert store.get_bytes("segments/00001.m4s", 3, 4) == b"3456"
    assert store.get_bytes("segments/00001.m4s", 8) == b"89"
    work_file = tmp_path / "encoded.m4s"
    work_file.write_bytes(b"frag")
    store.put_file("segments/00002.m4s", work_file)
    assert not work_file.exists() and store.get_bytes("segments/00002.m4s") == b"frag"
    put_json(store, "audio/result.json", {"a": [1, 2]})
    assert get_json(store, "audio/result.json") == {"a": [1, 2]}
    assert store.exists("audio/result.json") and not store.exists("audio/other.json")
    assert not list((tmp_path / "store").rglob(".*.tmp"))


@pytest.mark.parametrize("name", ["../outside", "/etc/passwd", "a/../../outside", "", ".", "a/../.."])
def test_names_cannot_escape_the_folder(tmp_path: Path, name: str) -> None:
    store = LocalStorage(tmp_path / "store")
    for call in (lambda: store.put_bytes(name, b"x"), lambda: store.get_bytes(name), lambda: store.exists(name)):
        with pytest.raises(ValueError, match="escapes its folder"):
            call()
    assert sorted(os.listdir(tmp_path)) in ([], ["store"])


def test_a_symlink_out_of_the_folder_does_not_let_a_name_escape(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "store" / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="escapes its folder"):
        LocalStorage(tmp_path / "store").put_bytes("link/x", b"x")
    assert list((tmp_path / "elsewhere").iterdir()) == []
