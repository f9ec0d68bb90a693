"""The verification cannot fail silently: damage between the encoders and the finish stage, or a segment placed
at the wrong time, fails the job, and nothing is left at OUT (no partial file either)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from splitstitch import assemble, fmp4, stages
from splitstitch.cli import main
from splitstitch.encode import fragment_name
from splitstitch.errors import SegmentMismatchError
from splitstitch.pipeline import transcode
from splitstitch.settings import Settings

FAST = Settings(preset="ultrafast", segment_seconds=1.3)


def flip_one_byte(path: Path, where: str) -> None:
    """Flip one bit inside the moof (sample tables) or in the middle of the mdat (sample data) of `path`."""
    data = bytearray(path.read_bytes())
    moof, mdat = (next(b for b in fmp4.iter_boxes(data) if b.type == kind) for kind in ("moof", "mdat"))
    at = moof.start + moof.size - 3 if where == "moof" else mdat.body + (mdat.end - mdat.body) // 2
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["moof", "mdat"])
def test_a_byte_changed_in_storage_fails_the_job(where: str, monkeypatch, samples, tmp_path: Path) -> None:
    real_finish = stages.finish
    damaged = []

    def finish_after_damage(job, store, sink, name):
        flip_one_byte(store.root / fragment_name(1), where)
        damaged.append(where)
        return real_finish(job, store, sink, name)

    monkeypatch.setattr(stages, "finish", finish_after_damage)
    out = tmp_path / "out.mp4"
    with pytest.raises(SegmentMismatchError, match="video piece 1: stored bytes differ from what was checked"):
        transcode(samples("cfr"), out, FAST, workers=2, work_root=tmp_path)
    assert damaged == [where]
    assert list(tmp_path.iterdir()) == []  # no output, no partial output, no work folder


def test_a_segment_placed_at_the_wrong_time_fails_frame_timestamps(monkeypatch, samples, tmp_path: Path) -> None:
    real_layout = assemble.layout

    def shifted(video_init, parts, *args, **kwargs):
        lay = real_layout(video_init, parts, *args, **kwargs)
        late = fmp4.tracks(video_init)[0].timescale // 100  # 10 ms late
        pieces = tuple(
            replace(p, patch=replace(p.patch, decode_time_shift=p.patch.decode_time_shift + late))
            if (p.kind, p.index) == ("video", 1) else p
            for p in lay.pieces
        )  # fmt: skip
        return replace(lay, pieces=pieces)

    monkeypatch.setattr(assemble, "layout", shifted)
    out, report = tmp_path / "out" / "out.mp4", tmp_path / "report.json"
    out.parent.mkdir()
    code = main(["transcode", str(samples("cfr")), "-o", str(out), "--report", str(report), "--quiet",
                 "--preset", "ultrafast", "--segment-seconds", "1.3"])  # fmt: skip
    assert code == 3
    data = json.loads(report.read_text())
    failed = [c["name"] for c in data["verification"]["checks"] if not c["ok"]]
    assert failed == ["frame_timestamps"]
    assert data["status"] == "failed"
    assert list(out.parent.iterdir()) == []


def test_the_same_run_without_damage_passes(samples, tmp_path: Path) -> None:
    """The two tests above fail for the damage they make, not for the settings they run with."""
    out = tmp_path / "out.mp4"
    result = transcode(samples("cfr"), out, FAST, workers=2, work_root=tmp_path)
    assert result.verification.ok and len(result.report["plan"]["segments"]) >= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
