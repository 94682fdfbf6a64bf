"""
`zsris eval bag`: answer every command of a recorded bag as the node would, and score it.

Ground truth comes from a mask topic in the bag (see bags.py for the pairing convention) or
from a JSON file:

    [{"command_index": 0, "mask": "masks/0.png"},
     {"stamp_ns": 1700000000100000000, "mask": "masks/1.png"}]

`command_index` counts the bag's commands from 0 in log-time order; `stamp_ns` is the
command's log time; both are whole numbers >= 0. Mask paths are relative to the JSON file;
any non-zero pixel is inside. An entry of any other shape makes the whole file unusable.
"""

from dataclasses import dataclass
from functools import partial
from itertools import islice
import json
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from .run import Batch, ImageUnavailable, Item, no_truth, run_evaluation, TruthUnavailable
from ..bags.layout import INFO_TOPIC, TRUTH_TOPIC
from ..bags.reader import Bag, BagCommand, BagImage, BagTopics, paired_commands
from ..errors import InputError
from ...grounding import GroundingConfig
from ...image_io import ImageConversionError


@dataclass(frozen=True)
class BagSource:
    """What to replay and how commands meet frames."""

    path: Path
    topics: BagTopics
    frame_policy: str
    next_frame_timeout: float
    gt_file: Path | None = None


class TruthFile:
    """Ground-truth masks listed in a JSON file, by command index or command log time."""

    def __init__(self, path: Path) -> None:
        """Read the list; mask files are only opened when their command is scored."""
        self._by_index: dict[int, Path] = {}
        self._by_stamp: dict[int, Path] = {}
        try:
            entries = json.loads(path.read_bytes().decode('utf-8'))
            if not isinstance(entries, list):
                raise ValueError(f'a JSON {type(entries).__name__}, not a list')
            for number, entry in enumerate(entries):
                self._add(path.parent, number, entry)
        except (OSError, ValueError) as error:
            raise InputError(f'cannot use --gt-file {path}: {error} (expected a JSON list '
                             'of {"command_index" or "stamp_ns", "mask"})') from None

    def _add(self, folder: Path, number: int, entry: Any) -> None:
        """File one entry under its index or stamp; ValueError says what is wrong with it."""
        if not isinstance(entry, dict) or not isinstance(entry.get('mask'), str):
            raise ValueError(f'entry {number} is not an object with a "mask" path')
        if 'command_index' not in entry and 'stamp_ns' not in entry:
            raise ValueError(f'entry {number} has neither command_index nor stamp_ns')
        for key, table in (('command_index', self._by_index), ('stamp_ns', self._by_stamp)):
            if key in entry:
                value = entry[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f'entry {number} has {key} {value!r}, not a whole '
                                     'number >= 0')
                table[value] = folder / entry['mask']

    def loader(self, command: BagCommand) -> Callable[[], np.ndarray | None]:
        """Return a reader of the command's target mask; no entry means no ground truth."""
        mask = self._by_index.get(command.index) or self._by_stamp.get(command.log_ns)
        return no_truth if mask is None else partial(_read_mask, mask)


def evaluate_bag(config: GroundingConfig, source: BagSource, out: Path, limit: int | None,
                 overlays: bool) -> dict[str, Any]:
    """Replay the bag through the pipeline; results.jsonl and metrics.json go to `out`."""
    truth_file = TruthFile(source.gt_file) if source.gt_file else None
    with Bag(source.path) as bag:
        topics = _default_topics(bag, source.topics, truth_file is not None)
        commands = paired_commands(bag, topics, source.frame_policy, source.next_frame_timeout)
        total = bag.count(topics.command)
        settings = {'bag': str(source.path.resolve()), 'image_topic': topics.image,
                    'command_topic': topics.command, 'gt_topic': topics.truth,
                    'info_topic': topics.info,
                    'gt_file': str(source.gt_file.resolve()) if source.gt_file else None,
                    'frame_policy': source.frame_policy,
                    'next_frame_timeout': source.next_frame_timeout}
        return run_evaluation(config, settings, _batches(islice(commands, limit), truth_file),
                              out, total if limit is None else min(total, limit), overlays)


def _default_topics(bag: Bag, topics: BagTopics, has_truth_file: bool) -> BagTopics:
    """Truth and info topics not named fall back to the `zsris bag` names, when recorded."""
    def default(given: str | None, name: str, wanted: bool = True) -> str | None:
        return given if given is not None else (name if wanted and bag.has(name) else None)
    return BagTopics(topics.image, topics.command,
                     default(topics.truth, TRUTH_TOPIC, not has_truth_file),
                     default(topics.info, INFO_TOPIC))


def _batches(commands: Iterator[BagCommand], truth_file: TruthFile | None) -> Iterator[Batch]:
    """One command per batch: the node grounds commands one at a time."""
    for command in commands:
        if truth_file is not None:
            truth = truth_file.loader(command)
        elif command.truth is not None:
            truth = partial(_recorded_mask, command.truth)
        else:
            truth = no_truth
        frame = command.frame
        fields = {'command': command.text, 'command_log_ns': command.log_ns,
                  'image_log_ns': frame.log_ns if frame else None,
                  'image_stamp_ns': frame.stamp_ns if frame else None, 'info': command.info}
        yield Batch(partial(_frame_rgb, frame), [Item(command.index, command.text, fields,
                                                      truth)])


def _frame_rgb(frame: BagImage | None) -> np.ndarray:
    if frame is None:
        raise ImageUnavailable('no_image', 'no camera frame received for this command')
    try:
        return frame.rgb()
    except ImageConversionError as error:
        raise ImageUnavailable('error', str(error)) from None


def _recorded_mask(image: BagImage) -> np.ndarray:
    try:
        return image.mask()
    except ImageConversionError as error:
        raise TruthUnavailable('unreadable', str(error)) from None


def _read_mask(path: Path) -> np.ndarray:
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise TruthUnavailable('unreadable', f'cannot read mask file {path}')
    return pixels.reshape(pixels.shape[0], pixels.shape[1], -1).any(axis=2)
