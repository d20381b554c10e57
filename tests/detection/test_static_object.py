"""The static-object model alone: its per-pixel threshold follows the local noise of the background."""

from __future__ import annotations

import numpy as np

from detection.static_object import StaticConfig, StaticObjectModel

FPS = 5
W, H = 640, 480
THING = (120, 300, 170, 340)  # x1, y1, x2, y2: a low-contrast thing on the quiet half


def _frames_with_blobs(config: StaticConfig, *, seconds: float = 60.0) -> tuple[int, int]:
    """Frames with a static blob on the shimmering right half once the model has watched it for 30 s, and
    on the thing (quiet left half, put down at 10 s, 16 grey levels darker than the ground)."""
    rng = np.random.default_rng(1)
    ground = np.kron(rng.integers(90, 150, (H // 8, W // 8, 3)), np.ones((8, 8, 1))).astype(np.float32)
    model = StaticObjectModel(config, fps=FPS)
    shimmer = thing = 0
    for index in range(round(seconds * FPS)):
        t = index / FPS
        image = ground.copy()
        # Leaves in wind: 16-px cells of the right half each hold a random offset for 0.6 s.
        cells = np.random.default_rng(index // 3).integers(-30, 31, (H // 16, W // 32, 1))
        image[:, W // 2 :] += np.kron(cells, np.ones((16, 16, 1)))
        if t >= 10:
            x1, y1, x2, y2 = THING
            image[y1:y2, x1:x2] -= 16
        blobs = model.update(np.clip(image, 0, 255).astype(np.uint8), t, [], [])
        shimmer += t >= 30 and any(b.box[0] >= W / 2 for b in blobs)
        thing += any(b.box[0] < THING[2] and b.box[2] > THING[0] for b in blobs)
    return shimmer, thing


def test_a_shimmering_area_raises_its_own_threshold_and_a_quiet_one_keeps_the_low_one() -> None:
    """With a low ``diff_threshold`` (set for low-contrast things), a fixed threshold turns shimmering
    leaves into static blobs most of the time; the noise-relative threshold cuts that by more than half,
    while the low-contrast thing on the quiet ground is still found there."""
    fixed_shimmer, fixed_thing = _frames_with_blobs(StaticConfig(diff_threshold=10, noise_factor=0.0))
    shimmer, thing = _frames_with_blobs(StaticConfig(diff_threshold=10))
    assert fixed_shimmer > 100
    assert shimmer < fixed_shimmer / 2, (shimmer, fixed_shimmer)
    assert thing >= fixed_thing * 0.9 and thing > 100, (thing, fixed_thing)
