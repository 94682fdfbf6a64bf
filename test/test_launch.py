"""
Test launch/grounding.launch.py: its arguments, read statically, and a real `ros2 launch`.

The real launch runs in a private ROS 2 environment built by the vendored harness
(tools/ros2-launch/ros2_env.sh: launch, launch_ros, ros2cli and the registry's ROS 2 wheels),
with this package installed into it as `colcon build` lays it out. The node's own dependencies
(torch, ...) come from this project's venv through a .pth file. The harness needs the package
registries; if they cannot be reached the tests fail, they never skip.
"""

import ast
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
             'model_preset', 'device'}
NAMESPACE = 'launchtest'
IMAGE_TOPIC, COMMAND_TOPIC = '/cam/image_raw', '/speech/text'
LAUNCH_ARGUMENTS = ['model_preset:=tiny', 'device:=cpu', f'namespace:={NAMESPACE}',
                    f'image:={IMAGE_TOPIC}', f'command:={COMMAND_TOPIC}']
COMMAND = 'the red mug on the left'


# Static checks: the launch file read with `ast` (launch and launch_ros are not in this venv).

def _literal(node: ast.AST | None):
    return node.value if isinstance(node, ast.Constant) else None


def _keywords(call: ast.Call) -> dict[str, ast.AST]:
    return {k.arg: k.value for k in call.keywords if k.arg}


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (getattr(node.func, 'id', None) == name
                 or getattr(node.func, 'attr', None) == name)]


def _loop_rows(tree: ast.Module, call: ast.Call, variable: str) -> tuple[list, int]:
    """Rows of the module-level table a loop around `call` unpacks, and `variable`'s column."""
    tables = {target.id: statement.value for statement in tree.body
              if isinstance(statement, (ast.Assign, ast.AnnAssign))
              for target in (statement.targets if isinstance(statement, ast.Assign)
                             else [statement.target])
              if isinstance(target, ast.Name)}
    for loop in ast.walk(tree):
        pairs = ([(g.target, g.iter) for g in loop.generators] if hasattr(loop, 'generators')
                 else [(loop.target, loop.iter)] if isinstance(loop, ast.For) else [])
        if call not in ast.walk(loop):
            continue
        for target, iterated in pairs:
            names = [getattr(e, 'id', None) for e in getattr(target, 'elts', [])]
            if variable in names and isinstance(iterated, ast.Name):
                return tables[iterated.id].elts, names.index(variable)
    raise AssertionError(f'cannot resolve {variable!r} of a DeclareLaunchArgument')


def launch_arguments(tree: ast.Module) -> dict[str, str | None]:
    """Name -> description of every DeclareLaunchArgument, literal or from a table looped over."""
    found = {}
    for call in _calls(tree, 'DeclareLaunchArgument'):
        keywords = _keywords(call)
        name = call.args[0] if call.args else keywords['name']
        description = keywords.get('description')
        if isinstance(name, ast.Constant):
            found[name.value] = _literal(description)
            continue
        rows, name_column = _loop_rows(tree, call, name.id)
        if isinstance(description, ast.Name):
            _, description_column = _loop_rows(tree, call, description.id)
            for row in rows:
                found[row.elts[name_column].value] = _literal(row.elts[description_column])
        else:
            for row in rows:
                found[row.elts[name_column].value] = _literal(description)
    return found


@pytest.fixture(scope='module')
def launch_tree() -> ast.Module:
    return ast.parse(LAUNCH_FILE.read_text(), str(LAUNCH_FILE))


def test_declares_exactly_the_documented_arguments(launch_tree):
    arguments = launch_arguments(launch_tree)
    assert set(arguments) == ARGUMENTS
    undocumented = [name for name, text in arguments.items() if not (text or '').strip()]
    assert not undocumented, f'launch arguments without a description: {undocumented}'


def test_starts_the_grounding_node_of_this_package(launch_tree):
    nodes = [_keywords(call) for call in _calls(launch_tree, 'Node')]
    assert len(nodes) == 1
    assert _literal(nodes[0].get('package')) == 'zsris_ros'
    assert _literal(nodes[0].get('executable')) == 'grounding_node'
    setup = ast.parse((REPO / 'setup.py').read_text())
    scripts = [_literal(e) for e in ast.walk(setup) if isinstance(_literal(e), str)]
    assert any(s.replace(' ', '').startswith('grounding_node=') for s in scripts), (
        'setup.py has no grounding_node console script')


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

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.started = time.monotonic()
        with open(log, 'w') as out:
            # A background process may start with SIGINT ignored; env puts it back to default,
            # so SIGINT reaches ros2 launch (SIGTERM alone would orphan the node).
            self.process = subprocess.Popen(
                ['env', '--default-signal=INT', 'ros2', 'launch', 'zsris_ros',
                 'grounding.launch.py', *LAUNCH_ARGUMENTS],
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
                if 'grounding_node' in command and f'__ns:=/{NAMESPACE}' in command]

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
def launch(ros_env, tmp_path_factory):
    running = Launch(ros_env, tmp_path_factory.mktemp('launch') / 'ros2_launch.log')
    yield running
    if running.process.poll() is None or running.group():
        running.interrupt(20)
        running.kill_group()


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


def test_show_args_imports_the_installed_launch_file(ros_env):
    done = _run(['ros2', 'launch', '--show-args', 'zsris_ros', 'grounding.launch.py'], 120,
                env=ros_env)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ARGUMENTS:
        assert f"'{name}':" in done.stdout, done.stdout


def test_command_on_remapped_topics_gets_a_result(launch, probe):
    probe, executor = probe
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    images = probe.create_publisher(Image, IMAGE_TOPIC, qos_profile_sensor_data)
    commands = probe.create_publisher(String, COMMAND_TOPIC, reliable)
    results = []
    probe.create_subscription(String, f'/{NAMESPACE}/result',
                              lambda msg: results.append(json.loads(msg.data)),
                              QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))

    def connected() -> bool:
        return bool(images.get_subscription_count() and commands.get_subscription_count()
                    and probe.count_publishers(f'/{NAMESPACE}/result'))

    assert _spin_until(executor, connected, 90), (
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

    assert _spin_until(executor, lambda: results, 90, every=publish), (
        f'no result on /{NAMESPACE}/result ({len(sent)} frames sent):\n' + launch.output())
    print(f'result {time.monotonic() - launch.started:.1f} s after ros2 launch')
    result = results[0]
    assert result['command'] == COMMAND
    assert result['status'] == 'ok', result
    assert result['frame_id'] == 'camera_color_optical_frame'
    assert result['centroid'] is not None
    assert len(results) == 1, results


def test_parameter_reaches_the_node(launch, ros_env):
    # --no-daemon: no ros2 daemon outlives the test; --timeout: discovery under load is slow.
    done = _run(['ros2', 'param', 'get', '--no-daemon', '--spin-time', '2', '--timeout', '30',
                 f'/{NAMESPACE}/grounding_node', 'model_preset'], 90, env=ros_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == 'String value is: tiny'


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
