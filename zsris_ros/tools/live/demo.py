"""
`zsris demo`: the product working end to end, offline, in a couple of minutes.

Starts the grounding node, replays the bundled bag (toy tabletop frames and spoken-style
commands) into it over loopback DDS, one command at a time, and scores what comes back
against the recorded ground-truth masks.
"""

from dataclasses import dataclass
import json
from pathlib import Path
import time
from typing import Any, Iterator

import cv2
import numpy as np

from .node_client import loopback_environment, NodeClient, NodeProcess
from ..bags.layout import (CAMERA_INFO_TOPIC, COMMAND_TOPIC, DEPTH_TOPIC, IMAGE_TOPIC,
                           INFO_TOPIC, TRUTH_TOPIC)
from ..bags.reader import Bag, BagCommand, BagImage, BagTopics, paired_commands
from ..evaluation.metrics import overlap
from ...grounding.geometry import NO_CAMERA_INFO, NO_DEPTH_FRAME
from ...grounding.overlay import draw_overlay
from ...grounding.result import GroundingResult
from ...image_io import rgb_from_image

NAMESPACE = '/zsris_demo'
START_TIMEOUT_S = 180.0
COMMAND_TIMEOUT_S = 60.0
#: What the node says when a frame's depth or camera_info never reached it: they travel best
#: effort, as from a camera, and a replay sends each frame only until the colour one arrives.
LOST_IN_TRANSIT = (NO_DEPTH_FRAME, NO_CAMERA_INFO)


@dataclass
class DemoRow:
    """One command of the replay and what the node answered."""

    command: str
    kind: str
    noun_phrase: str
    status: str
    score: float | None
    centroid: list[float] | None
    target_point: list[float] | None
    depth_status: str
    iou: float | None
    latency_ms: float


def run_demo(parameters: dict[str, Any], bag: Path, out: Path) -> dict[str, Any]:
    """Replay bag into a fresh node; write overlays and summary.json into out."""
    out.mkdir(parents=True, exist_ok=True)
    env = loopback_environment()
    node = NodeProcess(NAMESPACE, parameters, out / 'node.log', env)
    client = NodeClient(NAMESPACE, env)
    try:
        if not client.wait_connected(START_TIMEOUT_S):
            raise RuntimeError(f'the node did not start; see {out / "node.log"}')
        rows, shown = [], None
        for command in _commands(bag):
            frame = command.frame
            if frame is not None and frame.log_ns != shown:
                _show(client, frame)
                shown = frame.log_ns
            row = _replay(client, command, out)
            if _lost_in_transit(frame, row):
                _show(client, frame)  # a camera would have sent the next one
                row = _replay(client, command, out)
            rows.append(row)
    finally:
        client.close()
        node.stop()
    summary = {'bag': str(bag), 'parameters': parameters, 'rows': [r.__dict__ for r in rows],
               'by_type': _by_type(rows)}
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))
    return summary


def _commands(bag_path: Path) -> Iterator[BagCommand]:
    """Read the bag's commands with their frames (and each frame's depth and camera_info)."""
    with Bag(bag_path) as bag:
        depth, info = (topic if bag.has(topic) else None
                       for topic in (DEPTH_TOPIC, CAMERA_INFO_TOPIC))
        topics = BagTopics(IMAGE_TOPIC, COMMAND_TOPIC, TRUTH_TOPIC, INFO_TOPIC, depth, info)
        yield from paired_commands(bag, topics, 'latest', timeout_s=0.0)


def _show(client: NodeClient, frame: BagImage) -> None:
    depth = frame.depth.raw if frame.depth is not None else None
    client.show_frame(frame.raw, frame.stamp_ns, depth, frame.camera_info)


def _lost_in_transit(frame: BagImage | None, row: DemoRow) -> bool:
    """Tell an answer that lacks its point only because the frame's depth was lost."""
    return (frame is not None and frame.depth is not None and frame.camera_info is not None
            and row.depth_status in LOST_IN_TRANSIT)


def _replay(client: NodeClient, command: BagCommand, out: Path) -> DemoRow:
    start = time.monotonic()
    answer, mask_msg = client.ask(command.text, COMMAND_TIMEOUT_S)
    latency = (time.monotonic() - start) * 1000.0
    result = (GroundingResult.from_dict(answer) if answer is not None else
              GroundingResult.failure(command.text, 'timeout',
                                      f'no result within {COMMAND_TIMEOUT_S:.0f} s'))
    mask = rgb_from_image(mask_msg).any(axis=2) if mask_msg is not None else None
    iou = None
    if command.truth is not None:
        iou = round(overlap(mask, command.truth.mask()).iou, 3)
    if command.frame is not None:
        _write_overlay(out / f'{command.index:03d}.png', command.frame.rgb(), mask, result)
    return DemoRow(command=command.text, kind=(command.info or {}).get('type', ''),
                   noun_phrase=result.noun_phrase, status=result.status,
                   score=result.score, centroid=result.centroid,
                   target_point=result.target_point, depth_status=result.depth_status, iou=iou,
                   latency_ms=round(latency, 1))


def _write_overlay(path: Path, rgb: np.ndarray, mask: np.ndarray | None,
                   result: GroundingResult) -> None:
    picture = draw_overlay(rgb, mask, result.centroid, result.noun_phrase)
    cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))


def _by_type(rows: list[DemoRow]) -> dict[str, dict[str, float]]:
    """Share of commands with IoU >= 0.5, and their count, per expression type."""
    table: dict[str, dict[str, float]] = {}
    for kind in sorted({row.kind for row in rows}):
        ious = [row.iou or 0.0 for row in rows if row.kind == kind]
        table[kind or 'all'] = {'n': len(ious),
                                'correct': round(float(np.mean([i >= 0.5 for i in ious])), 3)}
    return table


def format_rows(summary: dict[str, Any]) -> str:
    """Format the replay as the table `zsris demo` prints."""
    lines = [f"{'command':<44}{'noun phrase':<22}{'status':<10}{'score':>7}"
             f"{'centroid':>10}{'point (m)':>18}{'IoU':>6}{'ms':>7}"]
    for row in summary['rows']:
        centroid = ('' if row['centroid'] is None
                    else f"{row['centroid'][0]:.0f},{row['centroid'][1]:.0f}")
        point = ('' if row['target_point'] is None
                 else ','.join(f'{value:.2f}' for value in row['target_point']))
        score = '' if row['score'] is None else f"{row['score']:.3f}"
        iou = '' if row['iou'] is None else f"{row['iou']:.2f}"
        lines.append(f"{row['command'][:43]:<44}{row['noun_phrase'][:21]:<22}"
                     f"{row['status']:<10}{score:>7}{centroid:>10}{point:>18}{iou:>6}"
                     f"{row['latency_ms']:>7.0f}")
    for kind, stats in summary['by_type'].items():
        lines.append(f"{kind}: {stats['correct']:.0%} of {stats['n']} commands with IoU >= 0.5")
    return '\n'.join(lines)
