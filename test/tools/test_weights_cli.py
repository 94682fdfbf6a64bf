"""
`zsris weights fetch|list` and the `offline` setting, against real HTTP servers on loopback.

The files come from an http.server in a thread (with and without Range support, or closing
the connection mid-stream) that records every request; the SAM URL is pointed at it with the
documented ZSRIS_SAM_URL_<MODEL> variable, and CLIP's hub with HF_ENDPOINT (in a fresh
interpreter, as the hub reads it at import). Files are a few hundred KB, so this takes seconds.
"""

import fcntl
import hashlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
from pathlib import Path
import pty
import random
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap
import threading

import pytest

from zsris_ros.grounding.weights import clip_checkpoint_path, VERIFIED_SUFFIX
from zsris_ros.tools import cli

SIZE = 300_000
CUT = 100_000
#: Commit id the fake hub answers with, as the real one does in X-Repo-Commit.
HUB_COMMIT = 'c0ffee' * 6 + 'c0ff'
HUB_REPO = 'timm/vit_base_patch32_clip_224.openai'
HUB_FILE = 'open_clip_model.safetensors'


class FileServer:
    """Serve named byte strings over HTTP from a thread; record every request's Range header."""

    def __init__(self, ranges: bool = True) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[dict] = []
        self.ranges = ranges
        #: Bytes of the next body to send before closing the connection (once), or None.
        self.cut_after: int | None = None
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f'http://127.0.0.1:{self.httpd.server_port}/{name}'

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


class _Handler(BaseHTTPRequestHandler):

    def do_GET(self):  # noqa: N802 - http.server's name
        server = self.server.owner
        asked = self.headers.get('Range')
        server.requests.append({'path': self.path, 'range': asked})
        data = server.files.get(self.path.lstrip('/'))
        if data is None:
            self.send_error(404)
            return
        start = 0
        if asked and server.ranges:
            start = int(re.fullmatch(r'bytes=(\d+)-', asked).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header('Content-Range', f'bytes */{len(data)}')
                self.send_header('Content-Length', '0')
                self.end_headers()
                return
            self.send_response(206)
            self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if server.cut_after is not None:
            body, server.cut_after = body[:server.cut_after], None
        self.wfile.write(body)
        server.requests[-1]['sent'] = len(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    served = FileServer()
    yield served
    served.close()


@pytest.fixture
def plain_server():
    """Serve files like `server`, ignoring Range: always the whole file."""
    served = FileServer(ranges=False)
    yield served
    served.close()


def weights_file(seed: int = 0, size: int = SIZE) -> tuple[str, bytes]:
    """Random bytes under an official-style name: sam_vit_b_<first 6 hex of their sha256>."""
    data = random.Random(seed).randbytes(size)
    return f'sam_vit_b_{hashlib.sha256(data).hexdigest()[:6]}.pth', data


def serve_sam(monkeypatch, server: FileServer, name: str, data: bytes, model: str = 'vit_b'):
    server.files[name] = data
    monkeypatch.setenv(f'ZSRIS_SAM_URL_{model.upper()}', server.url(name))


def fetch(folder: Path, *options: str) -> int:
    return cli.main(['weights', 'fetch', '--clip-pretrained', 'none', '--weights-dir',
                     str(folder), *options])


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_fetch_downloads_verifies_and_then_finds_it_cached(server, monkeypatch, tmp_path,
                                                           capsys):
    name, data = weights_file()
    serve_sam(monkeypatch, server, name, data)
    assert fetch(tmp_path) == 0
    out = capsys.readouterr().out
    target = tmp_path / name
    assert target.read_bytes() == data
    assert f'{name}  293.0 KiB  downloaded, sha256 verified  {target}' in out
    assert 'CLIP ViT-B-32' not in out and out.rstrip().endswith(
        f'ready: with offline true and weights_dir {tmp_path}, nothing is downloaded at run time')
    record = json.loads((tmp_path / (name + VERIFIED_SUFFIX)).read_text())
    assert record['sha256'] == hashlib.sha256(data).hexdigest()
    assert sorted(path.name for path in tmp_path.iterdir()) == [name, name + VERIFIED_SUFFIX]
    assert server.requests == [{'path': '/' + name, 'range': None, 'sent': SIZE}]

    assert fetch(tmp_path) == 0
    assert f'{name}  293.0 KiB  already cached, sha256 verified' in capsys.readouterr().out
    assert len(server.requests) == 1, 'a cached file is not downloaded again'


def test_a_checksum_mismatch_leaves_no_file_and_exits_2(server, monkeypatch, tmp_path, capsys):
    _, data = weights_file()
    wrong = 'sam_vit_b_000000.pth'
    assert not hashlib.sha256(data).hexdigest().startswith('000000')
    serve_sam(monkeypatch, server, wrong, data)
    assert fetch(tmp_path) == cli.EXIT_CONFIG
    line = one_error_line(capsys)
    assert f'downloaded {server.url(wrong)}, but its sha256' in line
    assert 'does not start with 000000' in line
    assert f'the download {tmp_path / wrong}.part was removed' in line
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_download_is_resumed_with_a_range_request(server, monkeypatch,
                                                                 tmp_path, capsys):
    name, data = weights_file()
    serve_sam(monkeypatch, server, name, data)
    server.cut_after = CUT
    assert fetch(tmp_path) == cli.EXIT_CONFIG
    line = one_error_line(capsys)
    partial = tmp_path / (name + '.part')
    assert f'downloading {server.url(name)} stopped after {CUT} of {SIZE} bytes' in line
    assert f'{partial} keeps them and the next try resumes from there' in line
    assert [path.name for path in tmp_path.iterdir()] == [partial.name]
    assert partial.read_bytes() == data[:CUT]

    assert fetch(tmp_path) == 0
    assert (tmp_path / name).read_bytes() == data and not partial.exists()
    assert server.requests[1] == {'path': '/' + name, 'range': f'bytes={CUT}-',
                                  'sent': SIZE - CUT}


def test_a_server_without_range_support_sends_the_whole_file_again(plain_server, monkeypatch,
                                                                   tmp_path, capsys):
    name, data = weights_file()
    serve_sam(monkeypatch, plain_server, name, data)
    plain_server.cut_after = CUT
    assert fetch(tmp_path) == cli.EXIT_CONFIG
    capsys.readouterr()
    assert fetch(tmp_path) == 0
    assert (tmp_path / name).read_bytes() == data
    assert plain_server.requests[1] == {'path': '/' + name, 'range': f'bytes={CUT}-',
                                        'sent': SIZE}
    assert not (tmp_path / (name + '.part')).exists()


def test_a_partial_file_that_is_no_prefix_starts_over(server, monkeypatch, tmp_path, capsys):
    """The server answers 416 to a range past the end: the stale .part is dropped."""
    name, data = weights_file()
    serve_sam(monkeypatch, server, name, data)
    (tmp_path / (name + '.part')).write_bytes(b'\0' * (SIZE + 10))
    assert fetch(tmp_path) == 0
    assert (tmp_path / name).read_bytes() == data
    assert [request['range'] for request in server.requests] == [f'bytes={SIZE + 10}-', None]


def test_a_download_in_progress_elsewhere_is_not_joined(server, monkeypatch, tmp_path, capsys):
    name, data = weights_file()
    serve_sam(monkeypatch, server, name, data)
    partial = tmp_path / (name + '.part')
    with partial.open('ab') as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        assert fetch(tmp_path) == cli.EXIT_CONFIG
    assert f'{partial} is being downloaded by another process' in one_error_line(capsys)
    assert server.requests == []


def test_network_failures_name_the_url(server, monkeypatch, tmp_path, capsys):
    missing = server.url('sam_vit_b_abcdef.pth')
    monkeypatch.setenv('ZSRIS_SAM_URL_VIT_B', missing)
    assert fetch(tmp_path) == cli.EXIT_CONFIG
    line = one_error_line(capsys)
    assert line.startswith(f'zsris: error: cannot download {missing} (HTTP Error 404')
    assert line.endswith('(option --sam-checkpoint)')
    closed = FileServer()
    closed.close()
    refused = closed.url('sam_vit_b_abcdef.pth')
    monkeypatch.setenv('ZSRIS_SAM_URL_VIT_B', refused)
    assert fetch(tmp_path) == cli.EXIT_CONFIG
    assert f'cannot download {refused} (' in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == [], 'no partial file without a byte received'


def test_an_unwritable_weights_dir_is_one_line(server, monkeypatch, tmp_path, capsys):
    name, data = weights_file()
    serve_sam(monkeypatch, server, name, data)
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a folder')
    assert fetch(blocker / 'weights') == cli.EXIT_CONFIG
    line = one_error_line(capsys)
    assert f'weights folder {blocker / "weights"} is not writable' in line
    assert line.endswith('(option --weights-dir)')
    assert server.requests == []


def test_a_mirror_url_must_carry_the_digest_in_its_name(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv('ZSRIS_SAM_URL_VIT_B', 'http://127.0.0.1:9/sam.pth')
    assert fetch(tmp_path) == cli.EXIT_CONFIG
    assert 'ZSRIS_SAM_URL_VIT_B=http://127.0.0.1:9/sam.pth must name a file whose name ends ' \
        'in its sha256 prefix' in one_error_line(capsys)


@pytest.mark.parametrize('preset, says', [
    ('toy', 'preset toy needs no downloads: proposals: felzenszwalb, which uses no weights; '
     'CLIP zsris-toy: ships with the package'),
    ('tiny', 'preset tiny needs no downloads: SAM tiny: random weights; CLIP zsris-tiny: '
     'random weights')])
def test_presets_without_files_say_so(preset, says, tmp_path, capsys):
    assert cli.main(['weights', 'fetch', '--preset', preset, '--weights-dir',
                     str(tmp_path / 'w')]) == 0
    assert capsys.readouterr().out.strip() == says
    assert not (tmp_path / 'w').exists()


def test_a_bad_preset_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(['weights', 'fetch', '--preset', 'huge'])
    assert stop.value.code == cli.EXIT_CONFIG
    assert "argument --preset: invalid choice: 'huge'" in one_error_line(capsys)


def test_list_shows_size_and_verification(server, monkeypatch, tmp_path, capsys):
    name, data = weights_file()
    serve_sam(monkeypatch, server, name, data)
    assert fetch(tmp_path) == 0
    other_name, other = weights_file(seed=1, size=2000)
    (tmp_path / other_name).write_bytes(other)
    (tmp_path / 'notes.bin').write_bytes(b'x' * 1023)
    (tmp_path / 'sam_vit_h_4b8939.pth.part').write_bytes(b'y' * 5000)
    capsys.readouterr()

    assert cli.main(['weights', 'list', '--weights-dir', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f'weights in {tmp_path}:\n')
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:6]}
    assert rows[name] == [name, '293.0', 'KiB', 'yes', str(tmp_path / name)]
    assert rows[other_name][1:4] == ['2.0', 'KiB', 'unchecked']
    assert rows['notes.bin'][1:5] == ['1023', 'B', 'no', 'digest']
    assert rows['sam_vit_h_4b8939.pth.part'][1:4] == ['4.9', 'KiB', 'partial']
    assert '4 files, 300.8 KiB' in out and "'zsris weights list --verify'" in out

    data_damaged = bytearray(other)
    data_damaged[0] ^= 0xFF
    (tmp_path / other_name).write_bytes(bytes(data_damaged))
    assert cli.main(['weights', 'list', '--weights-dir', str(tmp_path), '--verify',
                     '--json']) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing['weights_dir'] == str(tmp_path) and listing['hub_cache'] == str(tmp_path)
    files = {item['name']: item for item in listing['files']}
    assert files[name] == {'name': name, 'kind': 'sam', 'path': str(tmp_path / name),
                           'size': SIZE, 'size_human': '293.0 KiB', 'status': 'verified',
                           'verified': True}
    assert (files[other_name]['status'], files[other_name]['verified']) == ('damaged', False)
    assert (files['notes.bin']['status'], files['notes.bin']['verified']) == ('unknown', None)
    assert files['sam_vit_h_4b8939.pth.part']['status'] == 'partial'


def test_list_of_an_empty_cache(tmp_path, capsys):
    assert cli.main(['weights', 'list', '--weights-dir', str(tmp_path / 'none')]) == 0
    assert capsys.readouterr().out == f'no weight files in {tmp_path / "none"}\n'
    assert cli.main(['weights', 'list', '--weights-dir', str(tmp_path), '--json']) == 0
    assert json.loads(capsys.readouterr().out)['files'] == []


def test_offline_never_downloads_and_names_file_setting_and_remedy(
        server, monkeypatch, tmp_path, capsys, sample_image, tiny_checkpoints):
    data = tiny_checkpoints[1].read_bytes()
    name = f'sam_tiny_{hashlib.sha256(data).hexdigest()[:6]}.pth'
    serve_sam(monkeypatch, server, name, data, model='tiny')
    ground = ['ground', '--image', str(sample_image), '--text', 'the mug', '--preset', 'tiny',
              '--device', 'cpu', '--sam-checkpoint', 'auto', '--weights-dir', str(tmp_path)]
    assert cli.main([*ground, '--offline', 'true']) == cli.EXIT_CONFIG
    line = one_error_line(capsys)
    assert line == (
        f'zsris: error: SAM checkpoint {tmp_path / name} is missing and offline is true, so it '
        'is not downloaded; fetch it beforehand with `zsris weights fetch --preset tiny '
        f'--sam-checkpoint auto --weights-dir {tmp_path}`, or set offline to false '
        '(option --offline)')
    assert server.requests == [] and list(tmp_path.iterdir()) == []

    # The remedy as printed works, and then the same command grounds with no request.
    remedy = re.search('`zsris (.*?)`', line).group(1).split()
    assert cli.main(remedy) == 0
    assert len(server.requests) == 1
    capsys.readouterr()
    assert cli.main([*ground, '--offline', 'true']) == 0
    assert json.loads(capsys.readouterr().out)['status'] == 'ok'
    assert len(server.requests) == 1


def test_progress_bar_on_a_terminal(server, tmp_path):
    """Draw the tqdm bar on stderr when it is a terminal (a pty here), never in the output."""
    name, data = weights_file()
    server.files[name] = data
    controller, terminal = pty.openpty()
    # 24 rows, 100 columns: tqdm draws nothing on a terminal of width 0, a new pty's size.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))
    child = subprocess.Popen(
        [sys.executable, '-m', 'zsris_ros.tools.cli', 'weights', 'fetch', '--clip-pretrained',
         'none', '--weights-dir', str(tmp_path)], stdout=subprocess.PIPE, stderr=terminal,
        text=True, env={**os.environ, 'ZSRIS_SAM_URL_VIT_B': server.url(name)})
    drawn = b''
    while select.select([controller], [], [], 0.2)[0] or child.poll() is None:
        if select.select([controller], [], [], 0)[0]:
            drawn += os.read(controller, 65536)
    out = child.communicate(timeout=60)[0]
    os.close(terminal)
    os.close(controller)
    assert child.returncode == 0
    assert name in out and '%' not in out
    assert f'{name}: '.encode() in drawn and b'%|' in drawn and b'/293k' in drawn


# Runs the `zsris` command line in this interpreter with an audit hook that records every
# name look-up and connection any library makes, then prints the exit status and them.
WATCH_SOCKETS = """
    import json, sys

    events = []

    def hook(event, args):
        if event in ('socket.connect', 'socket.getaddrinfo', 'socket.gethostbyname'):
            events.append(f'{event} {args[1] if event == "socket.connect" else args[0]}')

    sys.addaudithook(hook)
    from zsris_ros.tools import cli

    code = cli.main(sys.argv[1:])
    print(json.dumps({'code': code, 'events': events}))
"""


def run_watched(*args: str, env: dict | None = None) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, '-c', textwrap.dedent(WATCH_SOCKETS), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_offline_clip_makes_no_connection_at_all(tmp_path, sample_image):
    """Watched by an audit hook: no look-up, no connection, by us or by the hub library."""
    ground = ['ground', '--image', str(sample_image), '--text', 'the mug', '--proposer',
              'felzenszwalb', '--device', 'cpu', '--weights-dir', str(tmp_path)]
    result, err = run_watched(*ground, '--offline', 'true')
    assert result == {'code': cli.EXIT_CONFIG, 'events': []}
    assert f'CLIP file {HUB_REPO}/{HUB_FILE} (or open_clip_pytorch_model.bin) (ViT-B-32 ' \
        f'openai) in {tmp_path} is missing and offline is true' in err
    assert '`zsris weights fetch --preset real --proposer felzenszwalb --weights-dir ' \
        f'{tmp_path}`' in err
    # The control: without offline the same command does reach for the network.
    result, err = run_watched(*ground, env={'HF_ENDPOINT': 'http://127.0.0.1:9'})
    assert result['code'] == cli.EXIT_CONFIG and result['events']
    assert 'cannot download http://127.0.0.1:9/' in err


class _FakeHub(BaseHTTPRequestHandler):
    """Answer as the Hugging Face hub does for one LFS file; 404 for anything else."""

    protocol_version = 'HTTP/1.1'

    def _answer(self, body: bool) -> None:
        data, requests = self.server.data, self.server.requests
        requests.append(f'{self.command} {self.path}')
        if self.path != f'/{HUB_REPO}/resolve/main/{HUB_FILE}':
            self.send_response(404)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        digest = hashlib.sha256(self.server.real_data).hexdigest()
        self.send_response(200)
        for header, value in (('X-Repo-Commit', HUB_COMMIT), ('ETag', f'"{digest}"'),
                              ('X-Linked-Etag', f'"{digest}"'),
                              ('X-Linked-Size', str(len(data))),
                              ('Content-Length', str(len(data)))):
            self.send_header(header, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self):  # noqa: N802 - http.server's name
        self._answer(body=False)

    def do_GET(self):  # noqa: N802 - http.server's name
        self._answer(body=True)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub():
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), _FakeHub)
    httpd.real_data = httpd.data = random.Random(2).randbytes(SIZE)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


def test_clip_fetch_through_the_hub(fake_hub, tmp_path, capsys):
    """
    Fetch with open_clip's own hub download into weights_dir, checked by its blob's name.

    A damaged download is removed; a good one is listed as verified, found offline, and not
    fetched again (no request, no connection at all).
    """
    hub = {'HF_ENDPOINT': f'http://127.0.0.1:{fake_hub.server_port}',
           'HF_HUB_DISABLE_PROGRESS_BARS': '1'}
    fetch_clip = ['weights', 'fetch', '--proposer', 'felzenszwalb', '--weights-dir',
                  str(tmp_path)]
    fake_hub.data = fake_hub.real_data[:-1] + b'!'
    result, err = run_watched(*fetch_clip, env=hub)
    assert result['code'] == cli.EXIT_CONFIG
    assert 'does not hash to its name, so it was removed; fetch again' in err
    assert not list(tmp_path.glob('models--*/blobs/*'))
    assert not list(tmp_path.glob('models--*/snapshots/*/*'))

    fake_hub.data = fake_hub.real_data
    result, err = run_watched(*fetch_clip, env=hub)
    assert result['code'] == 0, err
    snapshot = tmp_path / 'models--timm--vit_base_patch32_clip_224.openai' / 'snapshots' / \
        HUB_COMMIT / HUB_FILE
    assert snapshot.read_bytes() == fake_hub.data
    assert snapshot.resolve().name == hashlib.sha256(fake_hub.data).hexdigest()
    requests = len(fake_hub.requests)

    assert cli.main(['weights', 'list', '--weights-dir', str(tmp_path), '--json']) == 0
    [item] = json.loads(capsys.readouterr().out)['files']
    assert item == {'name': f'{HUB_REPO}/{HUB_FILE}', 'kind': 'clip', 'path': str(snapshot),
                    'size': SIZE, 'size_human': '293.0 KiB', 'status': 'verified',
                    'verified': True}
    assert clip_checkpoint_path('ViT-B-32', 'openai', str(tmp_path), offline=True) == \
        str(snapshot)

    result, err = run_watched(*fetch_clip, env=hub)
    assert result == {'code': 0, 'events': []}, err
    assert len(fake_hub.requests) == requests
