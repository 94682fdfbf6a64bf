"""The toy depth frame and camera: a pinhole over a tilted table, objects standing on it."""

import numpy as np
import pytest

from zsris_ros.toy.camera import ELEVATIONS
from zsris_ros.toy.scenes import generate_scene, HEIGHT, Scene, WIDTH

SEEDS = range(20)


@pytest.fixture(scope='module')
def scenes() -> list[Scene]:
    return [generate_scene(seed) for seed in SEEDS]


def back_project(scene: Scene) -> np.ndarray:
    """HxWx3 camera-frame points of every pixel, from K and the depth frame only."""
    k = np.array(scene.camera.k).reshape(3, 3)
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    pixels = np.stack([columns, rows, np.ones_like(rows)], axis=-1).astype(np.float64)
    return (pixels @ np.linalg.inv(k).T) * scene.depth[..., None]


def elevation(scene: Scene) -> np.ndarray:
    """Height above the table of every back-projected pixel, by the scene's table plane."""
    a, b, c, d = scene.table_plane
    return back_project(scene) @ np.array([a, b, c]) + d


def table(scene: Scene) -> np.ndarray:
    return ~np.any([obj.mask for obj in scene.objects], axis=0)


def test_camera_info_is_a_pinhole_of_the_image():
    camera = generate_scene(0).camera
    assert (camera.width, camera.height) == (WIDTH, HEIGHT) and camera.frame_id
    assert len(camera.k) == 9 and all(isinstance(v, float) for v in camera.k)
    fx, _, cx, _, fy, cy, *last = camera.k
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (fx, fy, cx, cy)
    assert camera.k[1] == camera.k[3] == 0.0 and last == [0.0, 0.0, 1.0]
    assert 0 < cx < WIDTH and 0 < cy < HEIGHT and fx > 0 and fy > 0


def test_depth_and_camera_are_fixed_by_the_seed():
    first, again, other = generate_scene(5), generate_scene(5), generate_scene(6)
    assert first.depth.tobytes() == again.depth.tobytes() and first.camera == again.camera
    assert first.camera != other.camera


def test_depth_is_finite_positive_metres(scenes):
    for scene in scenes:
        assert scene.depth.shape == (HEIGHT, WIDTH) and scene.depth.dtype == np.float32
        assert np.isfinite(scene.depth).all()
        assert 0.2 < scene.depth.min() and scene.depth.max() < 5.0


def test_table_pixels_back_project_onto_the_table_plane(scenes):
    for scene in scenes:
        normal = np.array(scene.table_plane[:3])
        assert np.linalg.norm(normal) == pytest.approx(1.0)
        assert np.abs(elevation(scene)[table(scene)]).max() < 1e-4


def test_table_depth_grows_towards_the_top_of_the_image(scenes):
    for scene in scenes:
        on_table = table(scene)
        both = on_table[:-1] & on_table[1:]
        assert both.sum() > 0.5 * both.size
        assert (scene.depth[:-1][both] > scene.depth[1:][both]).all()


def test_objects_stand_on_the_table_nearer_than_it(scenes):
    """Each object is a flat-topped slab a few centimetres tall, nearer than the table under it."""
    tallest = max(ELEVATIONS.values()) * 1.2
    for scene in scenes:
        heights = elevation(scene)
        a, b, c, d = scene.table_plane
        k = np.array(scene.camera.k).reshape(3, 3)
        for obj in scene.objects:
            lifted = heights[obj.mask]
            assert 0.0 < lifted.min() and lifted.max() < tallest
            assert lifted.max() - lifted.min() < 1e-4
            ys, xs = np.nonzero(obj.mask)
            rays = np.stack([xs, ys, np.ones_like(xs)], axis=-1) @ np.linalg.inv(k).T
            table_depth = -d / (rays @ np.array([a, b, c]))
            assert (scene.depth[ys, xs] < table_depth).all()
            assert obj.depth == pytest.approx(float(np.median(scene.depth[obj.mask])))


def test_large_objects_stand_taller_than_small_ones(scenes):
    heights = {'small': [], 'large': []}
    for scene in scenes:
        lifted = elevation(scene)
        for obj in scene.objects:
            heights[obj.size].append(float(np.median(lifted[obj.mask])))
    assert max(heights['small']) < min(heights['large'])
