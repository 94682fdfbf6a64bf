"""
The toy world's depth camera: a pinhole looking down at a tilted table from above-front.

The camera's optical frame is ROS's: x right, y down, z along the optical axis. The camera is
pitched down by `pitch` and sits `height` metres above the table, so the world's up direction
in the camera frame is n = (0, -cos(pitch), -sin(pitch)) and the table is the plane
n . X + height = 0. A pixel (u, v) sees along X = Z ((u - cx) / fx, (v - cy) / fy, 1), so the
table's depth is Z(v) = height / (sin(pitch) + cos(pitch) (v - cy) / fy): it depends on the
row only and grows towards the top of the image. An object's visible pixels show its top face,
`elevation` metres above the table, at Z = (height - elevation) / (same denominator): nearer
than the table under it by the fraction elevation / height.
"""

from dataclasses import dataclass
import math

import numpy as np

FRAME_ID = 'toy_camera_optical_frame'
#: Ranges the camera is drawn from: pitch below horizontal (radians), height (m), focal (px).
PITCH = (math.radians(45.0), math.radians(60.0))
CAMERA_HEIGHT = (0.55, 0.8)
FOCAL = (270.0, 300.0)
PRINCIPAL_JITTER = 3.0
#: Height (m) of an object's top face above the table, by size, before a +-15 % jitter.
ELEVATIONS = {'small': 0.025, 'large': 0.05}
ELEVATION_JITTER = 0.15


@dataclass(frozen=True)
class CameraInfo:
    """What sensor_msgs/CameraInfo says of a pinhole: K row-major, image size, frame."""

    width: int
    height: int
    k: tuple[float, ...]
    frame_id: str = FRAME_ID

    @property
    def fx(self) -> float:
        return self.k[0]

    @property
    def fy(self) -> float:
        return self.k[4]

    @property
    def cx(self) -> float:
        return self.k[2]

    @property
    def cy(self) -> float:
        return self.k[5]


@dataclass(frozen=True)
class TableView:
    """The camera and where it sits above the table, which fixes every pixel's depth."""

    camera: CameraInfo
    pitch: float
    height: float

    @property
    def table_plane(self) -> tuple[float, float, float, float]:
        """Return (a, b, c, d): a x + b y + c z + d is a camera-frame point's height above it."""
        return 0.0, -math.cos(self.pitch), -math.sin(self.pitch), self.height

    def depth_at(self, rows: np.ndarray, elevation: float | np.ndarray = 0.0) -> np.ndarray:
        """Depth (m) of the plane `elevation` metres above the table, seen at these rows."""
        slope = np.sin(self.pitch) + np.cos(self.pitch) * (rows - self.camera.cy) / self.camera.fy
        return ((self.height - elevation) / slope).astype(np.float32)

    def render(self, labels: np.ndarray, elevations: list[float]) -> np.ndarray:
        """
        Render the aligned depth frame (float32 metres) of labels (-1: table, i: object i).

        Every object is a flat-topped slab: its pixels lie on the plane of its elevation.
        """
        rows = np.arange(labels.shape[0], dtype=np.float64)[:, None]
        lifted = np.asarray([*elevations, 0.0], dtype=np.float64)[labels]
        return self.depth_at(rows, lifted)


def table_view(rng: np.random.Generator, width: int, height: int) -> TableView:
    """Draw a camera whose every row, the top one included, still sees the table."""
    pitch = rng.uniform(*PITCH)
    focal = rng.uniform(*FOCAL)
    cx, cy = (np.array([width, height]) - 1) / 2 + rng.uniform(-1, 1, 2) * PRINCIPAL_JITTER
    k = (focal, 0.0, float(cx), 0.0, focal, float(cy), 0.0, 0.0, 1.0)
    camera = CameraInfo(width, height, tuple(float(v) for v in k))
    return TableView(camera, float(pitch), float(rng.uniform(*CAMERA_HEIGHT)))


def elevations(rng: np.random.Generator, sizes: list[str]) -> list[float]:
    """Top-face height of each object (m): larger objects stand taller."""
    jitter = rng.uniform(1 - ELEVATION_JITTER, 1 + ELEVATION_JITTER, len(sizes))
    return [ELEVATIONS[size] * float(j) for size, j in zip(sizes, jitter)]
