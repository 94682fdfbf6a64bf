"""
Start the zsris_ros grounding node with its topics remapped to a camera and a command source.

For example:
  ros2 launch zsris_ros grounding.launch.py image:=/camera/color/image_raw \
      command:=/speech/text depth:=/camera/aligned_depth_to_color/image_raw \
      camera_info:=/camera/color/camera_info namespace:=zsris device:=cuda
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

#: (name, default, description, choices) of every launch argument.
ARGUMENTS = [
    ('namespace', '', 'Namespace of the node and of its output topics', None),
    ('image', 'image', 'Colour image topic (sensor_msgs/Image); <image>/compressed is also '
     'subscribed', None),
    ('command', 'command', 'Language command topic (std_msgs/String)', None),
    ('depth', 'depth', 'Depth image aligned to the colour image (16UC1 mm or 32FC1 m)', None),
    ('camera_info', 'camera_info', 'CameraInfo of the colour camera (for the 3-D point)',
     None),
    ('params_file', PathJoinSubstitution([FindPackageShare('zsris_ros'), 'config',
                                          'grounding.yaml']),
     'Parameter file of the node', None),
    ('model_preset', 'real', 'Model bundle: real (SAM + CLIP ViT-B/32) or tiny (tests only)',
     ['real', 'tiny']),
    ('device', 'auto', 'Torch device', ['auto', 'cpu', 'cuda']),
]


def generate_launch_description() -> LaunchDescription:
    """One grounding node, its topics remapped from the launch arguments."""
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description,
                                       **({'choices': choices} if choices else {}))
                 for name, default, description, choices in ARGUMENTS]
    image = LaunchConfiguration('image')
    node = Node(
        package='zsris_ros',
        executable='grounding_node',
        name='grounding_node',
        namespace=LaunchConfiguration('namespace'),
        parameters=[LaunchConfiguration('params_file'),
                    {'model_preset': LaunchConfiguration('model_preset'),
                     'device': LaunchConfiguration('device')}],
        remappings=[
            ('image', image),
            ('image/compressed', [image, '/compressed']),
            ('command', LaunchConfiguration('command')),
            ('depth', LaunchConfiguration('depth')),
            ('camera_info', LaunchConfiguration('camera_info')),
        ],
        output='screen',
        emulate_tty=True,
    )
    return LaunchDescription([*arguments, node])
