"""
What the bags of `zsris bag` look like, and so what `zsris eval bag` reads by default.

Kept apart from the bag code so the `zsris` parser can show it without importing rosbags.
"""

from pathlib import Path

IMAGE_TOPIC = '/camera/color/image_raw'
COMMAND_TOPIC = '/command'
TRUTH_TOPIC = '/ground_truth/mask'
INFO_TOPIC = '/ground_truth/info'
STORAGE_FORMATS = ('mcap', 'sqlite3')
#: The bag `zsris demo` replays: toy scenes with spoken-style commands (`zsris bag from-toy`).
SAMPLE_BAG = Path(__file__).resolve().parents[2] / 'data' / 'sample_bag'
