"""
Start the zsris_ros grounding node with its topics remapped to a camera and a command source.

For example:
  ros2 launch zsris_ros grounding.launch.py image:=/camera/color/image_raw \
      command:=/speech/text depth:=/camera/aligned_depth_to_color/image_raw \
      camera_info:=/camera/color/camera_info namespace:=zsris device:=cuda

The parameter file sets every parameter; model_preset, device and autostart may also be given
as launch arguments, and then (only then) they override the file. The node is a lifecycle
node that configures and activates itself (autostart); autostart:=false leaves it
unconfigured for a lifecycle manager or `ros2 lifecycle set <node> configure`.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction
from launch.conditions import LaunchConfigurationNotEquals
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, SetParameter, SetParametersFromFile
from launch_ros.substitutions import FindPackageShare

from zsris_ros.ros.settings import parameter_rows

#: (name, default, description) of the topic and file arguments.
ARGUMENTS = [
    ('namespace', '', 'Namespace of the node and of its output topics'),
    ('image', 'image', 'Colour image topic (sensor_msgs/Image); <image>/compressed is also '
     'subscribed'),
    ('command', 'command', 'Language command topic (std_msgs/String)'),
    ('depth', 'depth', 'Depth image aligned to the colour image (16UC1 mm or 32FC1 m)'),
    ('camera_info', 'camera_info', 'CameraInfo of the colour camera (for the 3-D point)'),
    ('params_file', PathJoinSubstitution([FindPackageShare('zsris_ros'), 'config',
                                          'grounding.yaml']), 'Parameter file of the node'),
]
#: Node parameters that are also launch arguments; empty means "as the parameter file says".
PARAMETER_ARGUMENTS = ('model_preset', 'device', 'autostart')


def parameter_argument(name: str) -> DeclareLaunchArgument:
    """Declare a launch argument for a node parameter, described and bounded as the node is."""
    row = next(row for row in parameter_rows() if row.name == name)
    choices = ('true', 'false') if row.kind is bool else row.choices
    return DeclareLaunchArgument(
        name, default_value='', choices=['', *choices],
        description=f'{row.description}. Empty: as the parameter file says')


def parameter_override(name: str) -> SetParameter:
    """Pass a parameter argument to the node only when it was given."""
    return SetParameter(name=name, value=LaunchConfiguration(name),
                        condition=LaunchConfigurationNotEquals(name, ''))


def generate_launch_description() -> LaunchDescription:
    """One grounding node, its topics remapped from the launch arguments."""
    arguments = [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, default, description in ARGUMENTS]
    arguments += [parameter_argument(name) for name in PARAMETER_ARGUMENTS]
    image = LaunchConfiguration('image')
    node = Node(
        package='zsris_ros',
        executable='grounding_node',
        name='grounding_node',
        namespace=LaunchConfiguration('namespace'),
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
    # The file, then the given arguments, reach the node in that order (later wins); the
    # scoped group keeps both from leaking into a launch file that includes this one.
    group = GroupAction(scoped=True, actions=[
        SetParametersFromFile(LaunchConfiguration('params_file')),
        *(parameter_override(name) for name in PARAMETER_ARGUMENTS),
        node,
    ])
    return LaunchDescription([*arguments, group])
