"""Body key points on one person's crop: MediaPipe's pose, hand and face models, run by OpenVINO on a CPU.

The model files are MediaPipe's own ``.tflite`` files (Apache-2.0), taken out of the ``mediapipe`` wheel by
the set-up command (``.ci/setup``) and read by OpenVINO directly; ``mediapipe`` itself is not needed and
nothing is fetched at run time. :func:`find_keypoint_models_dir` says where they are.

One person at a time, given the tracker's box:

1. **pose** (``pose_landmark_full``, 256²): a square crop around the box, as MediaPipe's own pose detector
   would frame it, gives 33 body points with a visibility each;
2. **face** (``face_detection_short_range``, 128²): a crop around the pose's head points says whether a face
   is seen there at all (pose models place a "face" on the back of a head; a face detector does not) and
   where its mouth is;
3. **hands** (``hand_recrop`` then ``hand_landmark_lite``, 224²): only for a hand the pose puts near the
   face, framed from the pose's wrist, index and pinky points as MediaPipe Holistic does. The pose model
   loses the hand exactly when it covers the mouth; the hand model fills that gap.

Everything comes back as plain arrays in source pixels. Not thread-safe: one set of models per thread (the
station's detection runs on one thread).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from detection.box import FloatArray
from detection.error import ModelError, ModelNotFoundError
from detection.frame import Image

POSE_FILE = "pose_landmark_full.tflite"
FACE_FILE = "face_detection_short_range.tflite"
HAND_RECROP_FILE = "hand_recrop.tflite"
HAND_FILE = "hand_landmark_lite.tflite"
MODEL_FILES = (POSE_FILE, FACE_FILE, HAND_RECROP_FILE, HAND_FILE)
ENV_KEYPOINT_MODELS = "STATION_KEYPOINT_MODELS"
# Where .ci/setup puts them (inside the virtual environment), then where an installed station keeps models.
DEFAULT_DIRS = (
    Path(sys.prefix) / "share" / "station-models" / "mediapipe",
    Path("/var/lib/station/models/mediapipe"),
)

# Pose landmark indices (MediaPipe's topology).
NOSE = 0
LEFT_EAR, RIGHT_EAR = 7, 8
MOUTH_LEFT, MOUTH_RIGHT = 9, 10
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_WRIST, RIGHT_WRIST = 15, 16
LEFT_PINKY, RIGHT_PINKY = 17, 18
LEFT_INDEX, RIGHT_INDEX = 19, 20
LEFT_THUMB, RIGHT_THUMB = 21, 22
LEFT_HIP, RIGHT_HIP = 23, 24
LEFT_ANKLE, RIGHT_ANKLE = 27, 28
HEAD_POINTS = tuple(range(11))  # nose, eyes, ears, mouth corners
# (wrist, pinky, index, thumb) per side.
HAND_POINTS = (
    (LEFT_WRIST, LEFT_PINKY, LEFT_INDEX, LEFT_THUMB),
    (RIGHT_WRIST, RIGHT_PINKY, RIGHT_INDEX, RIGHT_THUMB),
)
FACE_MOUTH = 3  # the face detector's six points: right eye, left eye, nose tip, mouth, right ear, left ear

POSE_SIZE, FACE_SIZE, RECROP_SIZE, HAND_SIZE = 256, 128, 256, 224
POSE_BOX_SCALE = 1.25  # MediaPipe frames a full body in a square 1.25 × its extent, centred on the hips
FACE_CROP_SCALE = 2.2  # the face crop's side over the head's size
MIN_FACE_SCORE = 0.5


def find_keypoint_models_dir(configured: Path | None = None) -> Path | None:
    """The configured folder, else ``$STATION_KEYPOINT_MODELS``, else the first default folder that holds
    every model file; None when there is none. A configured or environment folder is returned as is (its
    missing files are reported when it is loaded)."""
    if configured is not None:
        return configured
    env = os.environ.get(ENV_KEYPOINT_MODELS)
    if env:
        return Path(env)
    for candidate in DEFAULT_DIRS:
        if not missing_model_files(candidate):
            return candidate
    return None


def missing_model_files(directory: Path) -> list[str]:
    return [name for name in MODEL_FILES if not (directory / name).is_file()]


@dataclass(frozen=True, slots=True)
class FaceFinding:
    """The most confident face in the head crop: ``score`` 0..1, ``xyxy`` and ``mouth`` in source pixels."""

    score: float
    xyxy: tuple[float, float, float, float]
    mouth: tuple[float, float]


@dataclass(frozen=True, slots=True)
class HandKeypoints:
    """21 hand points (MediaPipe's hand topology: 0 wrist, 4 thumb tip, 8 index tip, ...) in source pixels."""

    points: FloatArray  # (21, 2)
    score: float


@dataclass(frozen=True, slots=True)
class BodyKeypoints:
    """One person's key points in source pixels: the 33 pose points with their visibility (0..1), the pose
    model's confidence that a person is there, the face found in the head crop (None: no face seen), and
    the hands looked at closely (only those the pose put near the face)."""

    points: FloatArray  # (33, 2)
    visibility: FloatArray  # (33,)
    score: float
    face: FaceFinding | None = None
    hands: tuple[HandKeypoints, ...] = ()


@dataclass(frozen=True, slots=True)
class _Crop:
    """A square, possibly rotated window of the source: ``source = origin + u * x_axis + v * y_axis`` for
    model-input pixel (u, v)."""

    origin: NDArray[np.float64]
    x_axis: NDArray[np.float64]
    y_axis: NDArray[np.float64]

    @classmethod
    def around(
        cls, centre: tuple[float, float], side: float, size: int, up: tuple[float, float] = (0.0, -1.0)
    ) -> _Crop:
        """A ``side``-pixel square centred on ``centre`` whose top points along ``up`` (a unit vector)."""
        k = side / size
        y_axis = -np.asarray(up, np.float64) * k
        x_axis = np.asarray([-up[1], up[0]], np.float64) * k
        origin = np.asarray(centre, np.float64) - (x_axis + y_axis) * size / 2
        return cls(origin, x_axis, y_axis)

    def matrix(self) -> NDArray[np.float64]:
        return np.stack([self.x_axis, self.y_axis, self.origin], axis=1)

    def to_source(self, uv: NDArray[np.float32]) -> FloatArray:
        uv64 = uv.astype(np.float64)
        out = self.origin + uv64[:, :1] * self.x_axis + uv64[:, 1:2] * self.y_axis
        return np.asarray(out, np.float32)

    def cut(self, image: Image, size: int) -> NDArray[np.float32]:
        """The window as an RGB float tensor (1, size, size, 3) in 0..1; outside the image is black."""
        window = cv2.warpAffine(
            image,
            self.matrix(),
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        rgb = cv2.cvtColor(window, cv2.COLOR_BGR2RGB)
        return np.asarray(rgb, np.float32)[None] / np.float32(255.0)


class _Net:
    """One compiled .tflite model with one image input; outputs by name."""

    def __init__(self, core: Any, path: Path, threads: int) -> None:
        try:
            model = core.read_model(str(path))
            self._compiled = core.compile_model(
                model,
                "CPU",
                {
                    "INFERENCE_NUM_THREADS": threads,
                    "INFERENCE_PRECISION_HINT": "f32",
                    "PERFORMANCE_HINT": "LATENCY",
                    # off: OpenVINO's pinning resets the calling thread to every CPU (see openvino_backend)
                    "ENABLE_CPU_PINNING": False,
                },
            )
        except Exception as exc:  # OpenVINO raises plain RuntimeErrors: translated once, here
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ModelError(f"{path}: OpenVINO cannot load it: {first}") from exc
        self._local = threading.local()  # one inference request per calling thread (not thread-safe)
        self._first_use = threading.Lock()  # a thread's first call alone (openvino_backend's docstring)
        self._outputs = {o.get_any_name(): o for o in self._compiled.outputs}

    def run(self, tensor: NDArray[np.float32], *names: str) -> dict[str, NDArray[np.float32]]:
        """The named outputs (copied; the others, such as the pose's segmentation mask, are not read)."""
        request = getattr(self._local, "request", None)
        if request is None:
            with self._first_use:
                request = self._compiled.create_infer_request()
                out = self._infer(request, tensor, names)
                self._local.request = request
                return out
        return self._infer(request, tensor, names)

    def _infer(
        self, request: Any, tensor: NDArray[np.float32], names: tuple[str, ...]
    ) -> dict[str, NDArray[np.float32]]:
        result = request.infer({0: tensor}, share_outputs=True)
        return {name: np.array(result[self._outputs[name]], np.float32) for name in names}


class KeypointModels:
    """The pose, face and hand models, loaded once from ``directory``; see the module docstring."""

    def __init__(self, directory: Path, *, threads: int = 1) -> None:
        if not directory.is_dir():
            raise ModelNotFoundError(f"{directory}: key-point model folder does not exist")
        missing = missing_model_files(directory)
        if missing:
            raise ModelNotFoundError(f"{directory}: key-point model files missing: {', '.join(missing)}")
        import openvino as ov

        core = ov.Core()
        self.directory = directory
        self._pose = _Net(core, directory / POSE_FILE, threads)
        self._face = _Net(core, directory / FACE_FILE, threads)
        self._recrop = _Net(core, directory / HAND_RECROP_FILE, threads)
        self._hand = _Net(core, directory / HAND_FILE, threads)
        self._anchors = _face_anchors()

    def estimate(
        self, image: Image, xyxy: tuple[float, float, float, float], *, hands_within: float | None = 0.8
    ) -> BodyKeypoints:
        """Key points of the person in ``xyxy`` (source pixels): the pose and the face, and the hands as
        :meth:`with_hands` finds them (``hands_within`` None: no hands)."""
        pose = self._estimate_pose(image, xyxy)
        body = BodyKeypoints(pose.points, pose.visibility, pose.score, self._find_face(image, pose, xyxy))
        return body if hands_within is None else self.with_hands(image, body, within=hands_within)

    def with_hands(self, image: Image, body: BodyKeypoints, *, within: float = 0.8) -> BodyKeypoints:
        """``body`` with the hand model's points for each hand whose pose points (wrist, fingers; seen or
        not) lie within ``within`` body scales (shoulder widths) of the mouth."""
        mouth = np.asarray(body.face.mouth if body.face is not None else mouth_point(body.points), np.float32)
        scale = body_scale(body.points)
        hands: list[HandKeypoints] = []
        for side in HAND_POINTS:
            near = np.linalg.norm(body.points[list(side)] - mouth, axis=1).min()
            if near <= within * scale:
                hand = self._estimate_hand(image, body.points, side)
                if hand is not None:
                    hands.append(hand)
        return dataclasses.replace(body, hands=tuple(hands))

    def _estimate_pose(self, image: Image, xyxy: tuple[float, float, float, float]) -> BodyKeypoints:
        x1, y1, x2, y2 = xyxy
        side = POSE_BOX_SCALE * max(x2 - x1, y2 - y1, 1.0)
        crop = _Crop.around(((x1 + x2) / 2, (y1 + y2) / 2), side, POSE_SIZE)
        out = self._pose.run(crop.cut(image, POSE_SIZE), "Identity", "Identity_1")
        raw = out["Identity"].reshape(-1, 5)[:33]
        points = crop.to_source(raw[:, :2])
        visibility = _sigmoid(raw[:, 3]) * _sigmoid(raw[:, 4])
        score = float(out["Identity_1"].reshape(-1)[0])
        return BodyKeypoints(points, visibility.astype(np.float32), score)

    def _find_face(
        self, image: Image, pose: BodyKeypoints, xyxy: tuple[float, float, float, float]
    ) -> FaceFinding | None:
        head = pose.points[list(HEAD_POINTS)]
        centre = head.mean(axis=0)
        spread = float(np.ptp(head, axis=0).max())
        size = max(spread, 0.12 * (xyxy[3] - xyxy[1]), 8.0) * FACE_CROP_SCALE
        crop = _Crop.around((float(centre[0]), float(centre[1])), size, FACE_SIZE)
        tensor = crop.cut(image, FACE_SIZE) * 2.0 - 1.0
        out = self._face.run(tensor.astype(np.float32), "classificators", "regressors")
        logits = np.clip(out["classificators"].reshape(-1), -100, 100)
        best = int(np.argmax(logits))
        score = float(_sigmoid(logits[best : best + 1])[0])
        if score < MIN_FACE_SCORE:
            return None
        raw = out["regressors"].reshape(-1, 16)[best]
        anchor = self._anchors[best]
        cx, cy = raw[0] + anchor[0] * FACE_SIZE, raw[1] + anchor[1] * FACE_SIZE
        w, h = raw[2], raw[3]
        corners = crop.to_source(np.asarray([[cx - w / 2, cy - h / 2], [cx + w / 2, cy + h / 2]], np.float32))
        mouth_uv = np.asarray(
            [
                [
                    raw[4 + 2 * FACE_MOUTH] + anchor[0] * FACE_SIZE,
                    raw[5 + 2 * FACE_MOUTH] + anchor[1] * FACE_SIZE,
                ]
            ],
            np.float32,
        )
        mouth = crop.to_source(mouth_uv)[0]
        box = (
            float(corners[:, 0].min()),
            float(corners[:, 1].min()),
            float(corners[:, 0].max()),
            float(corners[:, 1].max()),
        )
        return FaceFinding(score, box, (float(mouth[0]), float(mouth[1])))

    def _estimate_hand(
        self, image: Image, points: FloatArray, side: tuple[int, int, int, int]
    ) -> HandKeypoints | None:
        """MediaPipe Holistic's way: a window from the pose's wrist, index and pinky, refined by the re-crop
        model, then the hand landmark model."""
        wrist, pinky, index = (points[i].astype(np.float64) for i in side[:3])
        middle = (2 * index + pinky) / 3
        length = float(np.linalg.norm(middle - wrist))
        if length < 1.0:
            return None
        up = (middle - wrist) / length
        first = _Crop.around(
            (float(middle[0]), float(middle[1])), 2 * length * 2.7, RECROP_SIZE, (float(up[0]), float(up[1]))
        )
        raw = self._recrop.run(first.cut(image, RECROP_SIZE), "output_crop")["output_crop"].reshape(2, 2)
        centre, toward_wrist = first.to_source(raw).astype(np.float64)
        span = float(np.linalg.norm(toward_wrist - centre))
        if span < 1.0:
            return None
        up = (centre - toward_wrist) / span
        size = 2 * span
        centre = centre + up * 0.1 * size
        crop = _Crop.around(
            (float(centre[0]), float(centre[1])), size, HAND_SIZE, (float(up[0]), float(up[1]))
        )
        out = self._hand.run(crop.cut(image, HAND_SIZE), "Identity", "Identity_1")
        score = float(out["Identity_1"].reshape(-1)[0])
        hand = crop.to_source(out["Identity"].reshape(21, 3)[:, :2])
        return HandKeypoints(hand, score)


@functools.lru_cache(maxsize=4)
def load_keypoint_models(directory: Path, threads: int = 1) -> KeypointModels:
    """The models in ``directory``, loaded once per process and folder (every camera shares them)."""
    return KeypointModels(directory, threads=threads)


def mouth_point(points: FloatArray) -> tuple[float, float]:
    """The pose's mouth: the middle of its two mouth corners."""
    mid = (points[MOUTH_LEFT] + points[MOUTH_RIGHT]) / 2
    return float(mid[0]), float(mid[1])


def body_scale(points: FloatArray) -> float:
    """A person's size in pixels that does not depend on where the hands are: shoulder width, or half the
    torso's length for a person seen from the side (narrow shoulders)."""
    shoulders = float(np.linalg.norm(points[LEFT_SHOULDER] - points[RIGHT_SHOULDER]))
    neck = (points[LEFT_SHOULDER] + points[RIGHT_SHOULDER]) / 2
    hips = (points[LEFT_HIP] + points[RIGHT_HIP]) / 2
    torso = float(np.linalg.norm(neck - hips))
    return max(shoulders, 0.5 * torso, 1.0)


def _sigmoid(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -60, 60))), np.float32)


def _face_anchors() -> FloatArray:
    """The 896 anchor centres (fractions) of MediaPipe's short-range face detector: 16×16 cells with 2
    anchors, then 8×8 cells with 6."""
    rows = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                rows.extend([((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell)
    return np.asarray(rows, np.float32)
