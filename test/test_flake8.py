# Copyright 2017 Open Source Robotics Foundation, Inc.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

from pathlib import Path
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The package's Python; not the repository root, which holds venvs (.venv, build/).
PATHS = [str(REPO / path) for path in ('zsris_ros', 'launch', 'test', 'setup.py')]
#: flake8 forks worker processes. Run in this process, a fork inherits whatever ROS objects
#: earlier tests left for the garbage collector, and a worker that collects them crashes
#: (seen twice in fresh-clone runs); a process of its own has none.
FLAKE8 = 'import sys; from ament_flake8.main import main; sys.exit(main(sys.argv[1:]))'


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    done = subprocess.run([sys.executable, '-c', FLAKE8, *PATHS], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f'code style errors / warnings:\n{done.stdout}{done.stderr}'
