"""ROS 2 bags without a ROS install: the topic layout, reading with pairing, writing."""
