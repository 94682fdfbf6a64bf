"""Zero-shot referring image segmentation (Global-Local CLIP + SAM) for ROS 2."""

__version__ = '0.1.0'
