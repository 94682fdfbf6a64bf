"""
The output folder of one evaluation run, built so an interrupted run can resume.

``results.jsonl`` is append-only, one flushed line per expression: a run killed at any point
loses at most the line being written, which the next run drops and recomputes. ``run.json``
keeps the settings that shape the results, so a resumed run cannot silently mix answers of
two different configurations in one file; results without a readable run.json are not
extended at all. Every other line must be a record this module wrote (an object with a
whole-number index, a known status, and the fields the metrics read); anything else stops
the run with the file and line named, and nothing in the folder is changed.
"""

import json
import math
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ...grounding.config import fields_where, GroundingConfig
from ...grounding.result import STATUSES

RESULTS = 'results.jsonl'
METRICS = 'metrics.json'
SETTINGS = 'run.json'
OVERLAYS = 'overlays'
#: Settings that change speed or where files live, never an answer: a run may resume on a GPU.
SPEED_ONLY = frozenset(fields_where(GroundingConfig, 'changes_answers', False))


class RunFolder:
    """results.jsonl, metrics.json, run.json and overlays/ of one evaluation."""

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        """Create or reopen the folder; refuse one written with other settings."""
        self.path = path
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._keep_settings({k: v for k, v in settings.items() if k not in SPEED_ONLY})
            self.done = {record['index'] for record in self.records()}
            self._results = (path / RESULTS).open('a', encoding='utf-8')
        except OSError as error:
            raise InputError(f'cannot use {path} as the results folder: '
                             f'{error.strerror or error}') from None

    def records(self) -> list[dict[str, Any]]:
        """Every complete line of results.jsonl; a line cut short by a kill is removed."""
        results = self.path / RESULTS
        if not results.exists():
            return []
        records, complete, seen = [], 0, set()
        with results.open('rb') as lines:
            for number, line in enumerate(lines, 1):
                if not line.endswith(b'\n'):
                    break
                try:
                    records.append(parse_record(line, seen))
                except ValueError as error:
                    raise InputError(f'{results} line {number} {error}; remove the line '
                                     '(it is computed again) or the file to go on') from None
                seen.add(records[-1]['index'])
                complete += len(line)
        if complete < results.stat().st_size:
            os.truncate(results, complete)
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Write one result line and flush it, so a kill cannot take it back."""
        self._results.write(json.dumps(record) + '\n')
        self._results.flush()
        self.done.add(record['index'])

    def overlay_path(self, index: int) -> Path:
        """Where the overlay picture of expression `index` goes."""
        folder = self.path / OVERLAYS
        folder.mkdir(exist_ok=True)
        return folder / f'{index:06d}.png'

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Replace metrics.json whole, so a reader never sees half of it."""
        target = self.path / METRICS
        partial = target.with_suffix('.json.part')
        partial.write_text(json.dumps(metrics, indent=2) + '\n', encoding='utf-8')
        partial.replace(target)

    def close(self) -> None:
        """Close results.jsonl."""
        self._results.close()

    def _keep_settings(self, settings: dict[str, Any]) -> None:
        """Refuse results of other or unknown settings; then record these settings."""
        stored, results = self.path / SETTINGS, self.path / RESULTS
        settings = json.loads(json.dumps(settings))
        if results.exists() and results.stat().st_size:
            before = _stored_settings(stored, results)
            changed = sorted(k for k in before.keys() | settings.keys()
                             if before.get(k) != settings.get(k))
            if changed:
                raise InputError(
                    f'{self.path} holds results of a run with other settings '
                    f'({", ".join(changed)}); use another --out or delete {results}')
        partial = stored.with_suffix('.json.part')
        partial.write_text(json.dumps(settings, indent=2) + '\n', encoding='utf-8')
        partial.replace(stored)


def _stored_settings(stored: Path, results: Path) -> dict[str, Any]:
    """Return the settings of existing results; without them they are not ours to extend."""
    advice = f'use another --out, or delete {results} to start afresh'
    if not stored.is_file():
        raise InputError(f'{results} has no {SETTINGS} beside it, so the settings of its '
                         f'results are unknown; {advice}')
    try:
        before = json.loads(stored.read_bytes().decode('utf-8'))
    except ValueError as error:
        raise InputError(f'{stored} is not readable JSON ({error}); {advice}') from None
    if not isinstance(before, dict):
        raise InputError(f'{stored} is not a JSON object; {advice}')
    return before


def parse_record(line: bytes, seen: set[int]) -> dict[str, Any]:
    """
    Read one results.jsonl line; ValueError says what makes it not a record as written.

    Checked are the fields that resuming and the metrics read, so a hand-edited or foreign
    line stops the run here, naming its line, instead of deep inside the metrics.
    """
    try:
        record = json.loads(line.decode('utf-8'))
    except ValueError as error:
        raise ValueError(f'is not UTF-8 JSON ({error})') from None
    if not isinstance(record, dict):
        raise ValueError(f'is a JSON {type(record).__name__}, not an object')
    index = record.get('index')
    if not _is_count(index):
        raise ValueError(f'has index {index!r}, not a whole number >= 0')
    if index in seen:
        raise ValueError(f'repeats index {index}')
    if record.get('status') not in STATUSES:
        raise ValueError(f'has status {record.get("status")!r}, not one of '
                         f'{", ".join(STATUSES)}')
    _check_scores(record)
    return record


def _check_scores(record: dict[str, Any]) -> None:
    """Check the fields summarize() computes with: numbers where it adds, dicts it reads."""
    if record.get('iou') is not None and not (
            _is_number(record['iou']) and _is_count(record.get('intersection'))
            and _is_count(record.get('union'))):
        raise ValueError('has an iou, intersection or union that is not a finite number')
    timings = record.get('timings_ms') or {}
    if not isinstance(timings, dict) or not all(map(_is_number, timings.values())):
        raise ValueError('has timings_ms that are not an object of finite numbers')
    if not isinstance(record.get('info') or {}, dict):
        raise ValueError('has info that is not an object')


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
