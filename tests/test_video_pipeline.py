"""Video -> Clip end to end on the shared videos, and every bad-input error.

Needs the two BlazePose models (``make pose-models``) and ``../shared/data/video`` (or $STAR_DATA_DIR/video);
skips with the reason when either is missing. Each video is processed once per session.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("cv2", reason="opencv-python-headless is needed for video input (requirements.txt)")
pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is needed for video input (requirements.txt)")

from conftest import shared_video  # noqa: E402
from star.skeleton import SkeletonFormatError, load_clip  # noqa: E402
from star.skeleton.io import read_ntu_skeleton  # noqa: E402
from star.video import models  # noqa: E402
from star.video.decode import NoPersonError, VideoError, VideoLimits, probe_video  # noqa: E402
from star.video.pipeline import extract_pose, video_to_clip  # noqa: E402





@pytest.fixture(scope="session")
def two_people_pose():
    calls = []
    pose = extract_pose(shared_video("two_people.mp4"), on_progress=lambda done, total: calls.append((done, total)))
    return pose, calls


@pytest.fixture(scope="session")
def face_error():
    with pytest.raises(NoPersonError) as info:
        video_to_clip(shared_video("face_closeup.avi"))
    return info.value


# ------------------------------------------------------------------------------------ two_people.mp4
def test_two_bodies_in_most_frames(two_people_pose):
    pose, _ = two_people_pose
    clip = pose.to_clip()
    assert clip.frames.shape == (2, 72, 25, 3) and clip.frames.dtype == np.float32
    both = pose.present.all(0).mean()
    assert both >= 0.9, f"two bodies in only {both:.0%} of the frames"
    assert np.isfinite(clip.frames).all()


def test_bodies_apart_at_start_and_close_at_end(two_people_pose):
    pose, _ = two_people_pose
    base = pose.joints[:, :, 0]  # spine base (M, T, 3)
    gap = np.abs(base[0, :, 0] - base[1, :, 0])  # left-right separation, metres
    start, end = gap[:10].mean(), gap[-10:].mean()
    assert start > 0.5 and end < 0.45 and end < 0.7 * start, (start, end)
    # the same person stays in the same slot: each body's x moves smoothly (no swap between frames)
    assert np.abs(np.diff(base[:, :, 0], axis=1)).max() < 0.1


def test_plausible_bone_lengths_and_orientation(two_people_pose):
    pose, _ = two_people_pose
    for m in range(2):
        j = pose.joints[m][pose.present[m]]
        conf = pose.confidence[m][pose.present[m]]
        length = lambda a, b: np.linalg.norm(j[:, a] - j[:, b], axis=-1)  # noqa: E731
        for name, (a, b), lo, hi in [("upper arm", (4, 5), 0.2, 0.38), ("forearm", (5, 6), 0.17, 0.33),
                                     ("thigh", (12, 13), 0.3, 0.55), ("shin", (13, 14), 0.28, 0.5),
                                     ("spine", (0, 20), 0.4, 0.65), ("shoulders", (4, 8), 0.25, 0.45)]:
            seen = (conf[:, a] > 0.5) & (conf[:, b] > 0.5)  # arms hidden in the hug may collapse
            assert seen.mean() > 0.3, f"body {m} {name}: seen in {seen.mean():.0%} of the frames"
            bone = length(a, b)[seen]
            med = np.median(bone)
            assert lo < med < hi, f"body {m} {name}: {med:.3f} m"
            assert (np.abs(bone / med - 1) < 0.4).mean() > 0.8, f"body {m} {name}: unsteady"
            apart = length(a, b)[:24]  # before the hug (~0.9 s) both people are in full view: near-rigid bones
            assert np.abs(apart / np.median(apart) - 1).max() < 0.2, f"body {m} {name}: {apart.round(3)}"
        assert (j[:, 3, 1] > j[:, 0, 1]).all()  # head above spine base: y up
        assert (j[:, 14, 1] < j[:, 12, 1]).all()  # ankle below hip
        assert 1.0 < j[:, 0, 2].mean() < 10.0  # in front of the camera, metres away
        assert conf.shape[1] == 25 and 0.5 < conf.mean() <= 1.0


def test_meta_progress_and_json(two_people_pose):
    pose, calls = two_people_pose
    meta = pose.to_clip().meta
    json.dumps(meta)
    assert meta["reader"] == "video" and meta["resolution"] == "1920x1080" and meta["frame_count"] == 72
    assert abs(meta["fps"] - 28.05) < 0.1 and len(meta["confidence"]) == 2
    assert np.asarray(meta["joint_confidence"]).shape == (2, 72, 25)
    assert meta["pose_settings"]["tracker"]["max_people"] == 2
    assert calls[0] == (1, 72) and calls[-1] == (72, 72) and len(calls) == 72
    doc = json.loads(json.dumps(pose.to_json()))
    assert np.asarray(doc["bodies"][0]["landmarks_2d"]).shape == (72, 33, 3)


def test_overlay_frames(two_people_pose):
    from star.video.overlay import BODY_COLOURS, landmark_points, overlay_boxes, overlay_frames

    pose, _ = two_people_pose
    whole = overlay_frames(pose, [0, 71], size=480, crop=False)
    assert [i for i, _ in whole] == [0, 71]
    assert whole[0][1].shape == (270, 480, 3) and whole[0][1].dtype == np.uint8
    # cropped to the two people: every drawn landmark inside the crop, one shape for all, the people larger
    frames = [0, 24, 47, 71]
    boxes = overlay_boxes(pose, frames)
    images = dict(overlay_frames(pose, frames))
    shapes = set()
    for i, (x0, y0, x1, y1) in boxes.items():
        pts = np.clip(landmark_points([pose.image[m, i] for m in range(2) if pose.present[m, i]]), 0, [1919, 1079])
        assert ((pts >= [x0, y0]) & (pts < [x1, y1])).all(), i
        assert x1 - x0 < 0.6 * 1920  # a 1920-wide frame shown in a column: the people now fill it
        fill = np.ptp(pts, 0) / [x1 - x0, y1 - y0]  # share of the crop the people span, across and down
        assert fill.max() > 0.7 and fill[0] > 1.6 * np.ptp(pts[:, 0]) / 1920, fill  # before: of the whole frame
        image = images[i]
        assert max(image.shape[:2]) == 640  # the crop resized, its shape kept
        assert image.shape[1] / image.shape[0] == pytest.approx((x1 - x0) / (y1 - y0), abs=0.01)
        shapes.add(round(image.shape[1] / image.shape[0], 2))
        # drawn: a white joint dot at the confident landmarks (where they land in the resized crop), and each
        # present body's bones in its colour
        scale = max(image.shape[:2]) / max(x1 - x0, y1 - y0)
        white = []
        for m in range(2):
            if not pose.present[m, i]:
                continue
            lm = pose.image[m, i]
            xy = ((lm[lm[:, 2] >= 0.3, :2] - [x0, y0]) * scale).round().astype(int)
            xy = xy[(xy >= 0).all(1) & (xy < [image.shape[1], image.shape[0]]).all(1)]
            white += [bool((image[y, x] > 225).all()) for x, y in xy]
            colour = np.array(BODY_COLOURS[m])
            assert (np.abs(image.astype(int) - colour).sum(-1) < 30).sum() > 200, (i, m)
        assert len(white) > 20 and np.mean(white) > 0.8, (i, np.mean(white))
    assert len(shapes) == 1, shapes


def test_load_clip_reads_a_video(two_people_pose, monkeypatch):
    import star.video.pipeline as pipeline

    pose, _ = two_people_pose
    monkeypatch.setattr(pipeline, "extract_pose", lambda *a, **k: pose)  # same pipeline; no second run
    clip = load_clip(str(shared_video("two_people.mp4")))
    assert clip.num_bodies == 2 and clip.meta["reader"] == "video" and clip.source == "two_people.mp4"


def test_pose_command_writes_ntu_and_json(two_people_pose, monkeypatch, tmp_path):
    import star.video.pipeline as pipeline
    from star.cli import main

    pose, _ = two_people_pose
    monkeypatch.setattr(pipeline, "extract_pose", lambda *a, **k: pose)
    out, js = tmp_path / "x.skeleton", tmp_path / "x.json"
    assert main(["pose", str(shared_video("two_people.mp4")), "-o", str(out), "--json", str(js), "--quiet"]) == 0
    back = read_ntu_skeleton(out, denoise=False)  # keep the slot order (denoising sorts by motion)
    assert back.frames.shape == (2, 72, 25, 3)
    np.testing.assert_allclose(back.frames, pose.joints, atol=1e-6)
    assert len(json.loads(js.read_text())["bodies"]) == 2


# ------------------------------------------------------------------------------------ bad input
def test_face_closeup_is_refused_as_no_full_body(face_error):
    assert isinstance(face_error, SkeletonFormatError)
    assert "full body" in str(face_error) and "face_closeup.avi" in str(face_error)


def test_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("hello, this is text")
    with pytest.raises(VideoError, match="expected a video container.*found a file starting with b'hello"):
        load_clip(path)


def test_zero_frames_and_corrupt_streams(tmp_path):
    import cv2

    from star.video import models

    if not models.models_ready():  # frames are decoded after the models load
        pytest.skip(f"BlazePose models not set up in {models.models_dir()}: run `{models.FIX_COMMAND}`")

    writer = cv2.VideoWriter(str(tmp_path / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    writer.release()
    with pytest.raises(VideoError, match="at least one decodable video frame, found 0 frames"):
        video_to_clip(tmp_path / "empty.avi")
    src = shared_video("face_closeup.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(src[: len(src) // 2])
    with pytest.raises(VideoError, match="164 frames, as the header declares.*corrupt or truncated"):
        video_to_clip(tmp_path / "cut.avi")
    mp4 = shared_video("two_people.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(mp4[: len(mp4) // 3])  # index (moov) is at the end: lost
    with pytest.raises(VideoError, match="no readable video stream"):
        load_clip(tmp_path / "cut.mp4")


def test_limits_on_duration_size_and_missing(tmp_path):
    path = shared_video("two_people.mp4")
    with pytest.raises(VideoError, match=r"at most 1 s, found 2\.6 s \(72 frames"):
        probe_video(path, VideoLimits(max_seconds=1))
    with pytest.raises(VideoError, match="at most 1,000 bytes"):
        load_clip(path, max_bytes=1000)
    with pytest.raises(VideoError, match="at most 100 pixels"):
        probe_video(path, VideoLimits(max_pixels=100))
    with pytest.raises(VideoError, match="no such file"):
        load_clip(tmp_path / "nothing.mov")


def test_missing_models_name_the_fix(tmp_path, monkeypatch):
    face = shared_video("face_closeup.avi")
    monkeypatch.setenv("STAR_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(models.PoseModelsMissing, match="missing.*make pose-models"):
        models.model_path("detector")
    (tmp_path / "cache" / "pose_models").mkdir(parents=True)
    (tmp_path / "cache" / "pose_models" / "pose_landmark_full.tflite").write_bytes(b"not a model")
    with pytest.raises(models.PoseModelsMissing, match="corrupt.*python -m star.video.models --fetch"):
        models.model_path("landmarks")
    video = tmp_path / "v.avi"
    shutil.copy(face, video)
    with pytest.raises(VideoError, match="BlazePose models.*make pose-models"):
        load_clip(video)


def test_a_low_confidence_body_is_refused():
    """Bodies found but below the confidence bar: a NoPersonError naming the file and the confidence seen."""
    from star.video.pipeline import PoseSettings

    path = shared_video("two_people.mp4")
    with pytest.raises(NoPersonError, match="mean joint confidence >= 1.01") as info:
        extract_pose(path, settings=PoseSettings(min_confidence=1.01))
    assert "two_people.mp4" in str(info.value) and "partial or unclear body" in str(info.value)


def _synthetic_avi(path, frames: int = 60):
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), i % 255, np.uint8))
    writer.release()
    return path


def test_a_stream_longer_than_its_header_is_stopped_soon_after(tmp_path):
    """Issue 28: a header that declares 10 frames over a long stream ran 18,001 frames through BlazePose; now the
    stream is stopped at 1.5 x the declared count + 30."""
    import dataclasses

    from star.video.decode import VideoError, iter_frames, probe_video

    info = probe_video(_synthetic_avi(tmp_path / "long.avi", 120))
    assert info.frame_count == 120 and sum(1 for _ in iter_frames(info)) == 120
    lying = dataclasses.replace(info, frame_count=10)
    seen = []
    with pytest.raises(VideoError, match="more than 45 frames .*the header declares 10"):
        for index, _ in iter_frames(lying):
            seen.append(index)
    assert len(seen) == 45


def test_decoding_stops_at_the_wall_clock_cap(tmp_path):
    import time

    from star.video.decode import VideoError, VideoLimits, iter_frames, probe_video

    info = probe_video(_synthetic_avi(tmp_path / "slow.avi", 30))
    limits = VideoLimits(max_wall_seconds=0.2)
    with pytest.raises(VideoError, match="a video read within 0.2 s"):
        for _ in iter_frames(info, limits):
            time.sleep(0.05)  # the caller's work per frame (pose extraction) counts too


def test_relift_with_either_lifter(two_people_pose):
    """The same tracks lifted again: with the same settings nothing changes; with BlazePose's world landmarks the
    joints move; back with the learned lifter: the same people in the same places, Kinect-like bones, the
    synthesised joints by the canonical rule, and the settings recorded."""
    from star.video.pipeline import PoseSettings, relift

    pose, _ = two_people_pose
    assert pose.settings.lifter == "learned"  # the default, chosen in docs/VIDEO.md
    again = relift(pose, pose.settings)
    np.testing.assert_allclose(again.joints, pose.joints, atol=1e-4)  # relifting as before changes nothing
    world = relift(pose, PoseSettings(lifter="blazepose"))
    assert world.to_clip().meta["pose_settings"]["lifter"] == "blazepose"
    assert np.abs(world.joints - pose.joints).max() > 0.05
    learned = relift(world, PoseSettings(lifter="learned"))
    assert learned.joints.shape == pose.joints.shape and np.isfinite(learned.joints).all()
    assert learned.to_clip().meta["pose_settings"]["lifter"] == "learned"
    np.testing.assert_allclose(learned.joints, pose.joints, atol=1e-4)
    both = world.present.all(0) & learned.present.all(0)
    for m in range(2):
        j, b = learned.joints[m][both], world.joints[m][both]
        # placed where BlazePose placed them: spine bases within 0.5 m
        assert np.median(np.linalg.norm(j[:, 0] - b[:, 0], axis=-1)) < 0.5
        spine = np.median(np.linalg.norm(j[:, 20] - j[:, 0], axis=-1))
        assert 0.4 < spine < 0.65, spine
        assert (j[:, 3, 1] > j[:, 0, 1]).all()  # head above spine base
        np.testing.assert_allclose(j[:, 2], (j[:, 20] + j[:, 3]) / 2, atol=1e-5)  # neck by the canonical rule
    with pytest.raises(ValueError, match="lifter must be"):
        relift(pose, PoseSettings(lifter="magic"))


def test_pose_command_passes_the_lifter_and_field_of_view(two_people_pose, monkeypatch, tmp_path):
    import star.video.pipeline as pipeline
    from star.cli import main

    pose, _ = two_people_pose
    seen = []
    monkeypatch.setattr(pipeline, "extract_pose", lambda path, settings, **k: seen.append(settings) or pose)
    out = tmp_path / "x.npy"
    assert main(["pose", str(shared_video("two_people.mp4")), "-o", str(out), "--quiet",
                 "--lifter", "blazepose", "--hfov", "60"]) == 0
    assert seen[-1].lifter == "blazepose" and seen[-1].hfov_deg == 60
    assert main(["pose", str(shared_video("two_people.mp4")), "-o", str(out), "--quiet"]) == 0
    assert seen[-1].lifter == "learned" and seen[-1].hfov_deg == pytest.approx(84.7)
