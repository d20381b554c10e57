from __future__ import annotations

import numpy as np

from detection.region import Region, merge_regions, plan_regions, zone_region


def test_no_motion_no_region() -> None:
    assert plan_regions(np.zeros((0, 4), np.float32), (768, 576), model_side=320) == []


def test_small_motion_gets_one_native_scale_square_inside_the_frame() -> None:
    regions = plan_regions(np.asarray([[700, 500, 730, 560]], np.float32), (768, 576), model_side=320)
    assert regions == [Region(448, 256, 768, 576)]


def test_nearby_boxes_share_a_region_and_far_ones_get_their_own() -> None:
    boxes = np.asarray([[10, 10, 40, 80], [60, 20, 90, 90], [1500, 900, 1540, 980]], np.float32)
    regions = plan_regions(boxes, (1920, 1080), model_side=320)
    assert len(regions) == 2
    assert all(r.width == r.height == 320 for r in regions)


def test_too_many_or_too_large_regions_become_the_whole_frame() -> None:
    boxes = np.asarray([[0, 0, 20, 20], [700, 0, 720, 20], [0, 500, 20, 520]], np.float32)
    assert plan_regions(boxes, (768, 576), model_side=320, max_regions=2) == [Region(0, 0, 768, 576)]


def test_a_zone_region_shows_bodies_above_the_zone() -> None:
    region = zone_region((0.72, 0.17, 1.0, 0.36), (768, 576), model_side=320)
    assert region.x2 == 768 and region.y1 == 0 and region.width == region.height == 320


def test_merge_drops_regions_inside_others() -> None:
    assert merge_regions([Region(0, 0, 10, 10), Region(0, 0, 100, 100)]) == [Region(0, 0, 100, 100)]
