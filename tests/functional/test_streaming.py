"""Streaming output (issue 11) through the CLI: HLS, DASH and CMAF packages of small generated clips, every
manifest number checked against the tests' own measurements of the files (tests/stream_checks.py)."""

from __future__ import annotations

import errno
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import m3u8
import pytest

from splitstitch.cli import main
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.samples import cfr_args, make_sample
from tests.stream_checks import (
    assert_audio_renditions,
    assert_dash_timeline_equals_the_files,
    assert_every_rung_decodes_every_source_frame,
    assert_every_uri_exists,
    assert_hls_durations_equal_the_plan,
    assert_master_attributes_are_measured,
    assert_mpd_attributes_are_measured,
    assert_package,
    assert_segments_align_across_rungs,
    manifests,
)

FORMATS = ("hls", "dash", "cmaf")
# veryfast has B-frames (negative composition offsets in every segment); 1.5 s segments of a 3.8 s clip
# leave a last segment of 0.8 s, under half the target duration (what RFC 8216's peak bit rate skips)
FAST = ("--preset", "veryfast", "--segment-seconds", "1.5", "--quiet")


@dataclass(frozen=True)
class Package:
    fmt: str
    folder: Path
    report: dict
    source: Path

    @property
    def master(self) -> Path | None:
        return manifests(self.folder, self.fmt)[0]

    @property
    def mpd(self) -> Path | None:
        return manifests(self.folder, self.fmt)[1]


def transcode(source: Path, out: Path, *args: str) -> tuple[int, dict | None]:
    folder = out.parent if out.suffix in (".m3u8", ".mpd") else out
    report = folder.parent / f"{folder.name}.report.json"
    code = main(["transcode", str(source), "-o", str(out), "--report", str(report), *FAST, *args])
    return code, json.loads(report.read_text()) if report.exists() else None


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample("cfr", tmp_path_factory.mktemp("clip"), 3.8)


@pytest.fixture(scope="module", params=FORMATS)
def package(request: pytest.FixtureRequest, clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Package:
    out = tmp_path_factory.mktemp(request.param) / "out"
    code, report = transcode(clip, out, "--format", request.param, "--ladder", "240,120")
    assert code == 0 and report is not None
    return Package(request.param, out, report, clip)


def test_manifests_parse_and_every_uri_exists(package: Package) -> None:
    assert_every_uri_exists(package.master, package.mpd)
    names = {p.name for p in package.folder.iterdir()}
    assert names == {"master.m3u8", "manifest.mpd", "video", "audio"} - (
        {"manifest.mpd"} if package.fmt == "hls" else {"master.m3u8"} if package.fmt == "dash" else set())  # fmt: skip
    playlists = list(package.folder.rglob("*.m3u8"))
    assert (package.fmt == "dash") == (not playlists)
    assert package.report["output"]["entry"] == ("manifest.mpd" if package.fmt == "dash" else "master.m3u8")
    assert len(package.report["plan"]["segments"]) == 3
    assert [r["name"] for r in package.report["output"]["rungs"]] == ["240p", "120p"]


def test_durations_equal_the_plan(package: Package) -> None:
    if package.master:
        assert_hls_durations_equal_the_plan(package.master, package.report)
    if package.mpd:
        assert_dash_timeline_equals_the_files(package.mpd, package.report)


def test_manifest_attributes_are_measured_from_the_files(package: Package) -> None:
    if package.master:
        assert_master_attributes_are_measured(package.master)
    if package.mpd:
        assert_mpd_attributes_are_measured(package.mpd)


def test_segment_boundaries_are_identical_across_rungs(package: Package) -> None:
    assert_segments_align_across_rungs(package.master, package.mpd, package.report)


def test_every_rung_decodes_every_source_frame(package: Package) -> None:
    assert_every_rung_decodes_every_source_frame(package.master, package.mpd, package.source)


def test_audio_is_one_aac_stereo_128k_rendition(package: Package) -> None:
    found = assert_audio_renditions(package.master, package.mpd, package.source)
    assert list(found) == ["a0-stereo"]
    stream = found["a0-stereo"]
    assert (stream["channels"], int(stream["sample_rate"])) == (2, 48000)
    assert 120 <= stream["kbps"] <= 140, stream["kbps"]


def test_source_is_left_untouched(package: Package, clip: Path) -> None:
    before = clip.stat().st_mtime_ns
    assert package.report["source"]["bytes"] == clip.stat().st_size and clip.stat().st_mtime_ns == before


@pytest.mark.parametrize("kind", ["vfr", "open_gop"])
def test_vfr_and_open_gop_sources(kind: str, samples, tmp_path: Path) -> None:
    source = samples(kind)
    code, report = transcode(source, tmp_path / "out", "--format", "cmaf", "--ladder", "240,120")
    assert code == 0 and report is not None
    if kind == "vfr":
        assert report["source"]["video"]["vfr"] is True
    else:
        assert not all(s["on_keyframe"] for s in report["plan"]["segments"]), report["plan"]["reason"]
    assert_package(tmp_path / "out", "cmaf", report, source)


def test_surround_source_gets_a_stereo_and_a_51_rendition(samples, tmp_path: Path) -> None:
    source = samples("surround")  # two workers: the two renditions are encoded at the same time
    code, report = transcode(source, tmp_path / "out", "--format", "cmaf", "--ladder", "240", "--workers", "2")
    assert code == 0 and report is not None
    assert_package(tmp_path / "out", "cmaf", report, source)
    found = assert_audio_renditions(tmp_path / "out" / "master.m3u8", None, source)
    assert {name: s["channels"] for name, s in found.items()} == {"a0-stereo": 2, "a0-5.1": 6}
    assert found["a0-5.1"]["channel_layout"] == "5.1"
    assert 120 <= found["a0-stereo"]["kbps"] <= 140
    master = m3u8.load(str(tmp_path / "out" / "master.m3u8"))
    assert [(m.name, m.channels, m.default) for m in master.media] == [("a0-stereo", "2", "YES"), ("a0-5.1", "6", "NO")]


def test_ladder_auto_picks_rungs_from_the_source_height(tmp_path: Path) -> None:
    source = tmp_path / "vga.mp4"
    run_ffmpeg([*cfr_args(2.0, "640x480"), str(source)])
    code, report = transcode(source, tmp_path / "out", "--format", "hls", "--ladder", "auto")
    assert code == 0 and report is not None
    assert [(r["name"], r["width"], r["height"]) for r in report["output"]["rungs"]] == [
        ("480p", 640, 480), ("360p", 480, 360)]  # fmt: skip
    master = m3u8.load(str(tmp_path / "out" / "master.m3u8"))
    assert [p.stream_info.resolution for p in master.playlists] == [(640, 480), (480, 360)]
    assert_package(tmp_path / "out", "hls", report, source)


def test_rung_above_the_source_is_dropped_with_a_log_line(clip: Path, tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="splitstitch.ladder"):
        code, report = transcode(clip, tmp_path / "out", "--format", "hls", "--ladder", "480,240")
    assert code == 0 and report is not None
    assert [r["name"] for r in report["output"]["rungs"]] == ["240p"]
    assert [r.getMessage() for r in caplog.records if r.name == "splitstitch.ladder"] == [
        "ladder: 480p dropped, the source is 240p (rungs never upscale)"]  # fmt: skip
    assert not (tmp_path / "out" / "video" / "480p").exists()


def test_ladder_that_leaves_no_rung_is_a_one_line_error(clip: Path, tmp_path: Path, capsys) -> None:
    before = sorted(tmp_path.iterdir())
    code, report = transcode(clip, tmp_path / "out", "--format", "dash", "--ladder", "1080,720")
    assert (code, report) == (2, None)
    err = capsys.readouterr().err.strip()  # after the log's warnings of each rung dropped
    assert err.splitlines()[-1] == "error: --ladder '1080,720': every rung is above the source's 240p, none is left"
    assert "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before


def test_non_empty_output_is_refused_without_force(clip: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _ = transcode(clip, out, "--format", "hls")
    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: {out}: folder is not empty (use --force to replace it)"
    assert listing(out) == {"keep.txt": b"mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_force_replaces_the_old_package_in_one_swap(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert transcode(clip, out, "--format", "dash", "--ladder", "240")[0] == 0
    (out / "stale.txt").write_text("old")
    code, report = transcode(clip, out, "--format", "hls", "--ladder", "240,120", "--force")
    assert code == 0 and report is not None
    assert not (out / "stale.txt").exists() and not (out / "manifest.mpd").exists()
    assert (out / "master.m3u8").is_file() and (out / "video" / "120p").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.report.json"]  # nothing half-written left
    assert_package(out, "hls", report, clip)


def test_failed_verification_leaves_the_old_package_intact(clip: Path, tmp_path: Path, monkeypatch) -> None:
    from splitstitch import streaming_local as streaming
    from splitstitch.verify import Check

    out = tmp_path / "out"
    assert transcode(clip, out, "--format", "hls", "--ladder", "240")[0] == 0
    before = listing(out)
    monkeypatch.setattr(streaming, "playback_checks", lambda *a, **k: [Check("forced_failure", False, "made to fail")])
    code, report = transcode(clip, out, "--format", "cmaf", "--ladder", "240,120", "--force")
    assert code == 3 and report is not None and report["status"] == "failed"
    assert listing(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.report.json"]


@pytest.mark.parametrize("layout", ["same", "inside", "deeper"])
def test_output_folder_holding_the_source_is_refused_even_with_force(layout: str, clip: Path, tmp_path: Path, capsys) -> None:  # fmt: skip
    folder = tmp_path / "media"
    where = {"same": folder, "inside": folder, "deeper": folder / "sub" / "clips"}[layout]
    where.mkdir(parents=True)
    source = where / "clip.mp4"
    source.write_bytes(clip.read_bytes())
    out = folder if layout != "inside" else folder / "stream.m3u8"
    before = listing(tmp_path)
    code, _ = transcode(source, out, "--format", "hls", "--force")
    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: {folder}: holds the source {source}; choose another folder"
    assert listing(tmp_path) == before


def test_output_in_the_current_folder_is_refused(clip: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["transcode", str(clip), "-o", "stream.m3u8", "--quiet"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: .: is the current folder; name a folder for the package (e.g. -o out/stream.m3u8)"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("entry", "fmt"), [("stream.m3u8", "hls"), ("stream.mpd", "dash")])
def test_entry_file_name_picks_the_format(entry: str, fmt: str, clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, report = transcode(clip, out / entry, "--ladder", "240,120")
    assert code == 0 and report is not None
    assert report["output"]["format"] == fmt and report["output"]["entry"] == entry
    assert sorted(p.name for p in out.iterdir()) == sorted([entry, "video", "audio"])
    assert_package(out, fmt, report, clip, entry)


def test_a_failed_swap_puts_the_old_package_back(clip: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "out"
    assert transcode(clip, out, "--format", "hls", "--ladder", "240")[0] == 0
    before = listing(out)
    real = os.replace

    def full_disk(src, dst) -> None:  # the verified package cannot be moved in
        if str(src).endswith(".partial"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    code, _ = transcode(clip, out, "--format", "hls", "--ladder", "240,120", "--force")
    assert code == 1
    assert capsys.readouterr().err.strip().endswith(f"error: {out}: No space left on device")
    assert listing(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.report.json"]
