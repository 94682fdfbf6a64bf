"""
What the bags of `zsris bag` look like, and so what `zsris eval bag` reads by default.

Kept apart from the bag code so the `zsris` parser can show it without importing rosbags.
"""

from pathlib import Path

IMAGE_TOPIC = '/camera/color/image_raw'
COMMAND_TOPIC = '/command'
TRUTH_TOPIC = '/ground_truth/mask'
INFO_TOPIC = '/ground_truth/info'
#: Depth aligned to the colour frame (32FC1 metres) and the colour camera's intrinsics, logged
#: with each frame and stamped like it.
DEPTH_TOPIC = '/camera/aligned_depth_to_color/image_raw'
CAMERA_INFO_TOPIC = '/camera/color/camera_info'
STORAGE_FORMATS = ('mcap', 'sqlite3')
#: The bag `zsris demo` replays: toy scenes with spoken-style commands (`zsris bag from-toy`).
SAMPLE_BAG = Path(__file__).resolve().parents[2] / 'data' / 'sample_bag'
