"""
Test launch/grounding.launch.py: its arguments, read statically, and a real `ros2 launch`.

The real launch runs in a private ROS 2 environment built by the vendored harness
(tools/ros2-launch/ros2_env.sh: launch, launch_ros, ros2cli and the registry's ROS 2 wheels),
with this package installed into it as `colcon build` lays it out. The node's own dependencies
(torch, ...) come from this project's venv through a .pth file. The harness needs the package
registries; if they cannot be reached the tests fail, they never skip.
"""

import fcntl
import json
import os
from pathlib import Path
import random
import shutil
import signal
import subprocess
import sys
import sysconfig
import time

import cv2
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILE = REPO / 'launch' / 'grounding.launch.py'
HARNESS = REPO / 'tools' / 'ros2-launch' / 'ros2_env.sh'
#: The harness venv (~300 MB): under build/, which git ignores, `make clean` removes, and the
#: harness' install step does not copy along with the package.
HARNESS_VENV = Path(os.environ.get('ZSRIS_ROS2_LAUNCH_VENV', REPO / 'build' / 'ros2-launch-venv'))
SAMPLE_IMAGE = REPO / 'zsris_ros' / 'data' / 'tabletop.png'

ARGUMENTS = {'namespace', 'image', 'command', 'depth', 'camera_info', 'params_file',
             'model_preset', 'device', 'autostart'}
NAMESPACE = 'launchtest'
IMAGE_TOPIC, COMMAND_TOPIC = '/cam/image_raw', '/speech/text'
#: What the user's parameter file changes from the shipped one; no launch argument repeats it.
USER_PARAMETERS = {'model_preset': 'tiny', 'device': 'cpu', 'v': 0.5}
COMMAND = 'the red mug on the left'


# The real launch.

def _strip_project_env(env: dict[str, str]) -> dict[str, str]:
    """Drop from an environment what this venv's ROS wheels and activation set."""
    env = {k: v for k, v in env.items() if k not in (
        '_ROS_WHEELS_BOOTSTRAP_COMPLETE', 'VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME',
        'AMENT_PREFIX_PATH', 'CMAKE_PREFIX_PATH')}
    library_path = [p for p in env.pop('LD_LIBRARY_PATH', '').split(os.pathsep)
                    if p and not p.startswith(sys.prefix)]
    if library_path:
        env['LD_LIBRARY_PATH'] = os.pathsep.join(library_path)
    return env


def _run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def _harness_python_matches() -> bool:
    python = HARNESS_VENV / 'bin' / 'python'
    if not python.exists():
        return True
    found = _run([str(python), '-c', 'import sys; print(sys.version_info[:2])'], 60)
    return found.stdout.strip() == str(sys.version_info[:2])


@pytest.fixture(scope='session')
def harness() -> Path:
    """Build the harness venv (~40 s fresh, ~7 s after) and install this package into it."""
    if shutil.which('bash') is None:
        pytest.fail('bash is needed to build the ROS 2 launch harness')
    HARNESS_VENV.parent.mkdir(parents=True, exist_ok=True)
    env = _strip_project_env(dict(os.environ))
    # The node imports torch & co. from this venv, so the harness runs the same Python.
    env['ROS2_ENV_PYTHON'] = sys.executable
    with open(HARNESS_VENV.parent / f'{HARNESS_VENV.name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _harness_python_matches():
            shutil.rmtree(HARNESS_VENV)
        for step in (['setup', str(HARNESS_VENV)], ['install', str(HARNESS_VENV), str(REPO)]):
            start = time.monotonic()
            done = _run(['bash', str(HARNESS), *step], 900, env=env)
            print(f'ros2_env.sh {step[0]}: {time.monotonic() - start:.1f} s')
            if done.returncode != 0:
                pytest.fail(f'ros2_env.sh {step[0]} failed ({done.returncode}); the harness '
                            f'needs the package registries:\n{done.stderr[-4000:]}')
        site_packages = next((HARNESS_VENV / 'lib').glob('python3.*/site-packages'))
        (site_packages / 'deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    return HARNESS_VENV


@pytest.fixture(scope='module')
def domain_id() -> int:
    """Pick a DDS domain of this test's own (not the Makefile's 42)."""
    return random.randint(60, 100)


@pytest.fixture(scope='module')
def ros_env(harness, domain_id) -> dict[str, str]:
    """Return what `eval "$(ros2_env.sh env VENV)"` sets, on this test's domain."""
    env = _strip_project_env(dict(os.environ))
    env['ROS_DOMAIN_ID'] = str(domain_id)
    done = _run(['bash', '-c', 'eval "$("$0" env "$1")" && env -0', str(HARNESS),
                 str(harness)], 60, env=env)
    assert done.returncode == 0, done.stderr
    env = dict(item.split('=', 1) for item in done.stdout.split('\0') if '=' in item)
    assert env['ROS_DOMAIN_ID'] == str(domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    return env


def _process_group(group: int) -> dict[int, str]:
    """
    Map pid -> command line of the live processes in a process group (`pgrep -g`, no procps).

    Launch starts its nodes in its own process group, so a node left in it after `ros2 launch`
    has gone is an orphan.
    """
    found = {}
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
            command = (entry / 'cmdline').read_bytes().replace(b'\0', b' ')
        except OSError:
            continue
        state, _, process_group = stat[stat.rindex(')') + 2:].split()[:3]
        if int(process_group) == group and state != 'Z':
            found[int(entry.name)] = command.decode(errors='replace')
    return found


class Launch:
    """`ros2 launch zsris_ros grounding.launch.py ...` in the background, in its own group."""

    def __init__(self, env: dict[str, str], log: Path, arguments: list[str],
                 namespace: str = NAMESPACE) -> None:
        self.log = log
        self.namespace = namespace
        self.started = time.monotonic()
        with open(log, 'w') as out:
            # A background process may start with SIGINT ignored; env puts it back to default,
            # so SIGINT reaches ros2 launch (SIGTERM alone would orphan the node).
            self.process = subprocess.Popen(
                ['env', '--default-signal=INT', 'ros2', 'launch', 'zsris_ros',
                 'grounding.launch.py', f'namespace:={namespace}', *arguments],
                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors='replace')

    def group(self) -> list[int]:
        """List the processes left in the launch's process group: ros2 launch, nodes."""
        return sorted(_process_group(self.process.pid))

    def nodes(self) -> list[int]:
        """List the grounding nodes of this launch (its group, its namespace)."""
        return [pid for pid, command in _process_group(self.process.pid).items()
                if 'grounding_node' in command and f'__ns:=/{self.namespace}' in command]

    def interrupt(self, timeout: float) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)


@pytest.fixture(scope='module')
def user_params_file(tmp_path_factory) -> Path:
    """Write the shipped parameter file as a user edits it: another preset, device and v."""
    import yaml
    shipped = yaml.safe_load((REPO / 'config' / 'grounding.yaml').read_text())
    shipped['/**']['ros__parameters'].update(USER_PARAMETERS)
    path = tmp_path_factory.mktemp('params') / 'my_grounding.yaml'
    path.write_text(yaml.safe_dump(shipped))
    return path


def _stop(running: Launch) -> None:
    if running.process.poll() is None or running.group():
        running.interrupt(20)
        running.kill_group()


@pytest.fixture(scope='module')
def launch(ros_env, tmp_path_factory, user_params_file):
    """Run the launch as a user does: remapped topics, a parameter file, no model arguments."""
    running = Launch(ros_env, tmp_path_factory.mktemp('launch') / 'ros2_launch.log',
                     [f'params_file:={user_params_file}', f'image:={IMAGE_TOPIC}',
                      f'command:={COMMAND_TOPIC}'])
    yield running
    _stop(running)


def _get_parameter(ros_env: dict[str, str], namespace: str, name: str) -> str:
    # --no-daemon: no ros2 daemon outlives the test; --timeout: discovery under load is slow.
    done = _run(['ros2', 'param', 'get', '--no-daemon', '--spin-time', '2', '--timeout', '30',
                 f'/{namespace}/grounding_node', name], 90, env=ros_env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@pytest.fixture(scope='module')
def probe(domain_id):
    """Make a node of this process on the launch's domain, with its executor."""
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = Node('launch_probe', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    yield node, executor
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)


def _image_message(node: Node) -> Image:
    rgb = cv2.cvtColor(cv2.imread(str(SAMPLE_IMAGE)), cv2.COLOR_BGR2RGB)
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8', is_bigendian=0,
                step=rgb.shape[1] * 3, data=rgb.tobytes())
    msg.header.frame_id = 'camera_color_optical_frame'
    msg.header.stamp = node.get_clock().now().to_msg()
    return msg


def _spin_until(executor: SingleThreadedExecutor, done, timeout: float, every=None) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if done():
            return True
        if every is not None:
            every()
        executor.spin_once(timeout_sec=0.1)
    return done()


def test_show_args_lists_every_argument_with_its_choices(ros_env):
    from zsris_ros.ros.settings import parameter_rows

    done = _run(['ros2', 'launch', '--show-args', 'zsris_ros', 'grounding.launch.py'], 120,
                env=ros_env)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = done.stdout.split("\n    '")
    arguments = {block.split("':", 1)[0].strip(" '"): block for block in shown[1:]}
    assert set(arguments) == ARGUMENTS, done.stdout
    for name, block in arguments.items():
        assert block.split(':', 1)[1].strip(), f'launch argument {name} has no description'
    rows = {row.name: row for row in parameter_rows()}
    for name in ('model_preset', 'device'):
        for choice in rows[name].choices:
            assert f"'{choice}'" in arguments[name], (name, choice, arguments[name])


def test_command_on_remapped_topics_gets_a_result(launch, probe):
    probe, executor = probe
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    images = probe.create_publisher(Image, IMAGE_TOPIC, qos_profile_sensor_data)
    commands = probe.create_publisher(String, COMMAND_TOPIC, reliable)
    results = []
    probe.create_subscription(String, f'/{NAMESPACE}/result/json',
                              lambda msg: results.append(json.loads(msg.data)),
                              QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))

    def connected() -> bool:
        return bool(images.get_subscription_count() and commands.get_subscription_count()
                    and probe.count_publishers(f'/{NAMESPACE}/result/json'))

    assert _spin_until(executor, connected, 180), (
        'the node never subscribed to the remapped topics or published result:\n'
        + launch.output())
    print(f'node discovered {time.monotonic() - launch.started:.1f} s after ros2 launch')
    image = _image_message(probe)
    sent = []

    def publish() -> None:
        image.header.stamp = probe.get_clock().now().to_msg()
        images.publish(image)
        if len(sent) == 3:
            commands.publish(String(data=COMMAND))
        sent.append(image.header.stamp)

    assert _spin_until(executor, lambda: results, 180, every=publish), (
        f'no result on /{NAMESPACE}/result/json ({len(sent)} frames sent):\n' + launch.output())
    print(f'result {time.monotonic() - launch.started:.1f} s after ros2 launch')
    result = results[0]
    assert result['command'] == COMMAND
    assert result['status'] == 'ok', result
    assert result['frame_id'] == 'camera_color_optical_frame'
    assert result['centroid'] is not None
    assert len(results) == 1, results


def test_the_parameter_file_is_respected(launch, ros_env):
    assert _get_parameter(ros_env, NAMESPACE, 'model_preset') == 'String value is: tiny'
    assert _get_parameter(ros_env, NAMESPACE, 'device') == 'String value is: cpu'
    assert _get_parameter(ros_env, NAMESPACE, 'v') == 'Double value is: 0.5'


def test_sigint_stops_the_launch_and_its_node(launch):
    nodes = launch.nodes()
    assert len(nodes) == 1, f'grounding_node processes in the launch group: {nodes}'
    code = launch.interrupt(30)
    assert code is not None, 'ros2 launch did not exit within 30 s of SIGINT'
    end = time.monotonic() + 10
    while launch.group() and time.monotonic() < end:
        time.sleep(0.2)
    assert not launch.group(), f'orphans left by ros2 launch: {launch.group()}'
    assert not any(Path(f'/proc/{pid}').exists() for pid in nodes)
    assert code == 0, f'ros2 launch exited with {code}:\n{launch.output()}'
    assert 'process has finished cleanly' in launch.output(), launch.output()


def test_a_given_argument_overrides_the_parameter_file(ros_env, tmp_path, user_params_file):
    running = Launch(ros_env, tmp_path / 'ros2_launch.log',
                     [f'params_file:={user_params_file}', 'model_preset:=toy'],
                     namespace='launchoverride')
    try:
        assert _get_parameter(ros_env, 'launchoverride', 'model_preset') == (
            'String value is: toy'), running.output()
        assert _get_parameter(ros_env, 'launchoverride', 'device') == 'String value is: cpu'
    finally:
        _stop(running)


def _call_service(ros_env: dict[str, str], name: str, kind: str, request: str = '{}') -> str:
    done = _run(['ros2', 'service', 'call', name, kind, request], 120, env=ros_env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_autostart_false_leaves_a_lifecycle_node_for_its_manager(ros_env, tmp_path,
                                                                 user_params_file):
    running = Launch(ros_env, tmp_path / 'ros2_launch.log',
                     [f'params_file:={user_params_file}', 'autostart:=false'],
                     namespace='launchmanaged')
    node = '/launchmanaged/grounding_node'
    try:
        assert _get_parameter(ros_env, 'launchmanaged', 'autostart') == (
            'Boolean value is: False'), running.output()
        state = _call_service(ros_env, f'{node}/get_state', 'lifecycle_msgs/srv/GetState')
        assert "label='unconfigured'" in state, state
        configured = _call_service(ros_env, f'{node}/change_state',
                                   'lifecycle_msgs/srv/ChangeState', '{transition: {id: 1}}')
        assert 'success=True' in configured, configured + running.output()
        state = _call_service(ros_env, f'{node}/get_state', 'lifecycle_msgs/srv/GetState')
        assert "label='inactive'" in state, state
    finally:
        _stop(running)
