"""Positive test material for the littering rule, made reproducibly from the shared campus clip.

The shared clips are negatives (nobody leaves anything). Each :class:`LitterCase` composites an object into
``pets09_s2l1_campus.mp4`` at the feet of a real, annotated pedestrian at a real moment, so that the object
stays after they walk on: a dark or coloured rubbish bag (drawn, shaded and textured) or a real cut-out of
the clip's own clutter (the yellow cloth or the white paper on the grass). People whose feet are nearer the
camera than the object pass in front of it (occlusion by passers-by). Optionally a global brightness ramp
(±40 % over 2 s: the IR switch) runs while the object lies there.

The ground truth is computed from the clip's annotations, never from our detector: the object's box, when
it appeared, who left it, when they were last within ``owner_distance_h`` body heights of it, and from that
when the rule's condition holds (static ``dwell_s`` AND owner away ``owner_away_s``). It is written beside
the video as ``<name>.json``. ``python -m tests.support.littering_clips DIR`` writes every case.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from tests.support.mot import load_mot_ground_truth

FPS = 10
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class LitterCase:
    name: str
    owner: int  # MOT id of the pedestrian who leaves it
    drop_frame: int  # decoded frame index at which it is put down
    sprite: str  # "bag", "cloth" or "paper"
    colour: tuple[int, int, int] = (40, 40, 45)  # BGR, for drawn bags
    width_h: float = 0.4  # object width in the owner's body heights
    side: float = 1.0  # +1: put down to the owner's right (image), -1: left
    ramp_at_s: float | None = None  # a global brightness ramp starts here


CASES = (
    LitterCase("bag_road_dark", owner=9, drop_frame=130, sprite="bag", colour=(38, 38, 42)),
    LitterCase("cloth_right_cutout", owner=14, drop_frame=240, sprite="cloth", width_h=0.45, side=-1.0),
    LitterCase(
        "bag_blue_ir_switch", owner=19, drop_frame=60, sprite="bag", colour=(150, 60, 20), ramp_at_s=45.0
    ),
    LitterCase("paper_walkway_cutout", owner=16, drop_frame=120, sprite="paper", width_h=0.35),
    LitterCase("bag_brown_small", owner=13, drop_frame=130, sprite="bag", colour=(40, 70, 110), width_h=0.3),
)


@dataclass(frozen=True, slots=True)
class LitterTruth:
    name: str
    box: list[float]  # x, y, w, h in source pixels
    appeared_s: float
    owner: int
    owner_left_s: float  # from then on the owner stays farther than owner_distance_h (or is out of view)
    condition_s: float  # static for dwell_s AND owner away for owner_away_s
    dwell_s: float
    owner_away_s: float


def _sprite(kind: str, width: int, colour: tuple[int, int, int], source: NDArray[np.uint8], seed: int):  # type: ignore[no-untyped-def]
    """(BGR image, alpha 0..1) of the object, ``width`` pixels wide."""
    rng = np.random.default_rng(seed)
    if kind == "bag":
        height = max(8, round(width * 0.8))
        alpha = np.zeros((height, width), np.float32)
        cv2.ellipse(
            alpha,
            (width // 2, height // 2 + height // 10),
            (width // 2 - 1, height // 2 - height // 8),
            0,
            0,
            360,
            1.0,
            -1,
        )
        knot = np.array(
            [[width // 2 - width // 8, height // 4], [width // 2 + width // 8, height // 4], [width // 2, 0]]
        )
        cv2.fillPoly(alpha, [knot.astype(np.int32)], 1.0)
        shade = np.linspace(1.25, 0.7, height, dtype=np.float32)[:, None, None]
        texture = rng.normal(1.0, 0.08, (height, width, 1)).astype(np.float32)
        image = np.clip(np.asarray(colour, np.float32) * shade * texture, 0, 255).astype(np.uint8)
        return image, cv2.GaussianBlur(alpha, (3, 3), 0)
    region, low, high = {
        "cloth": ((60, 485, 170, 535), (15, 70, 110), (45, 255, 255)),
        "paper": ((315, 445, 360, 475), (0, 0, 170), (180, 70, 255)),
    }[kind]
    x1, y1, x2, y2 = region
    patch = source[y1:y2, x1:x2]
    mask = cv2.inRange(cv2.cvtColor(patch, cv2.COLOR_BGR2HSV), low, high)
    ys, xs = np.nonzero(mask)
    patch = patch[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = width / patch.shape[1]
    size = (width, max(6, round(patch.shape[0] * scale)))
    resized = np.asarray(cv2.resize(patch, size, interpolation=cv2.INTER_LINEAR), np.uint8)
    cut = np.asarray(
        cv2.resize((mask > 0).astype(np.float32), size, interpolation=cv2.INTER_LINEAR), np.float32
    )
    return resized, cv2.GaussianBlur(cut, (3, 3), 0)


def _distance_h(box: Box, person: Box) -> float:
    feet_x, feet_y = (person[0] + person[2]) / 2, person[3]
    dx = max(box[0] - feet_x, 0.0, feet_x - box[2])
    dy = max(box[1] - feet_y, 0.0, feet_y - box[3])
    return math.hypot(dx, dy) / max(person[3] - person[1], 1.0)


def make_case(
    case: LitterCase,
    clip: Path,
    truth: Path,
    out_dir: Path,
    *,
    dwell_s: float = 30.0,
    owner_away_s: float = 15.0,
    owner_distance_h: float = 1.5,
    frames: int | None = None,
) -> tuple[Path, LitterTruth]:
    """Write ``out_dir/<name>.mp4`` and ``<name>.json``; returns both (reused when already there).
    ``frames``: only the clip's first frames (a short clip for a live test that loops it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    video, label = out_dir / f"{case.name}.mp4", out_dir / f"{case.name}.json"
    ground = load_mot_ground_truth(truth)
    owner_boxes = {f: b for f, rows in ground.items() for pid, b in rows if pid == case.owner}
    x1, y1, x2, y2 = owner_boxes[case.drop_frame]
    height = y2 - y1
    with av.open(str(clip)) as container:
        pictures: list[NDArray[np.uint8]] = []
        for picture in container.decode(video=0):
            if frames is not None and len(pictures) >= frames:
                break
            pictures.append(np.asarray(picture.to_ndarray(format="bgr24"), np.uint8))
    image, alpha = _sprite(
        case.sprite, max(10, round(case.width_h * height)), case.colour, pictures[0], seed=case.owner
    )
    h_obj, w_obj = alpha.shape
    feet_x = (x1 + x2) / 2
    left = round(feet_x + case.side * 0.45 * height - w_obj / 2)
    top = round(y2 - h_obj)
    box: Box = (float(left), float(top), float(left + w_obj), float(top + h_obj))
    last_near = case.drop_frame
    for frame_index in sorted(owner_boxes):
        if frame_index >= case.drop_frame and _distance_h(box, owner_boxes[frame_index]) <= owner_distance_h:
            last_near = frame_index
    appeared_s = case.drop_frame / FPS
    left_s = (last_near + 1) / FPS
    result = LitterTruth(
        name=case.name,
        box=[float(left), float(top), float(w_obj), float(h_obj)],
        appeared_s=appeared_s,
        owner=case.owner,
        owner_left_s=left_s,
        condition_s=round(max(appeared_s + dwell_s, left_s + owner_away_s), 2),
        dwell_s=dwell_s,
        owner_away_s=owner_away_s,
    )
    if video.exists() and label.exists() and json.loads(label.read_text()) == asdict(result):
        return video, result
    _write(pictures, video, case, ground, box, image, alpha)
    label.write_text(json.dumps(asdict(result), indent=1))
    return video, result


def _write(frames, video, case, ground, box, image, alpha) -> None:  # type: ignore[no-untyped-def]
    left, top = int(box[0]), int(box[1])
    h_obj, w_obj = alpha.shape
    partial = video.with_suffix(".partial.mp4")
    with av.open(str(partial), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "g": str(FPS), "bf": "0", "preset": "veryfast"}
        stream.time_base = Fraction(1, FPS)
        for index, frame in enumerate(frames):
            canvas = frame.copy()
            if index >= case.drop_frame:
                cover = np.ones((h_obj, w_obj), np.float32)
                for _pid, (a1, b1, a2, b2) in ground.get(index, []):
                    if b2 > box[3]:  # nearer the camera: in front of the object
                        xa, xb = max(int(a1) - left, 0), min(int(a2) - left, w_obj)
                        ya, yb = max(int(b1) - top, 0), min(int(b2) - top, h_obj)
                        if xa < xb and ya < yb:
                            cover[ya:yb, xa:xb] = 0
                a = (alpha * cover)[..., None]
                region = canvas[top : top + h_obj, left : left + w_obj].astype(np.float32)
                canvas[top : top + h_obj, left : left + w_obj] = (a * image + (1 - a) * region).astype(
                    np.uint8
                )
            if case.ramp_at_s is not None:
                t = index / FPS - case.ramp_at_s
                gain = (
                    1.0
                    if t < 0
                    else 1.0 + 0.4 * min(t / 2.0, 1.0)
                    if t < 10
                    else 1.4 - 0.8 * min((t - 10) / 2, 1.0)
                )
                canvas = np.clip(canvas.astype(np.float32) * gain, 0, 255).astype(np.uint8)
            picture = av.VideoFrame.from_ndarray(canvas, format="bgr24")
            picture.pts = index
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    partial.replace(video)


def main(argv: list[str]) -> int:
    from tests.support.paths import MEDIA_DIR

    out_dir = Path(argv[0]) if argv else Path("littering-positives")
    for case in CASES:
        video, truth = make_case(
            case, MEDIA_DIR / "pets09_s2l1_campus.mp4", MEDIA_DIR / "pets09_s2l1_campus.gt.txt", out_dir
        )
        print(video, json.dumps(asdict(truth)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
