"""
The output folder of one evaluation run, built so an interrupted run can resume.

``results.jsonl`` is append-only, one flushed line per expression: a run killed at any point
loses at most the line being written, which the next run drops and recomputes. ``run.json``
keeps the settings that shape the results, so a resumed run cannot silently mix answers of
two different configurations in one file.
"""

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ...grounding.config import fields_where, GroundingConfig

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
        path.mkdir(parents=True, exist_ok=True)
        self._keep_settings({k: v for k, v in settings.items() if k not in SPEED_ONLY})
        self.done = {record['index'] for record in self.records()}
        self._results = (path / RESULTS).open('a', encoding='utf-8')

    def records(self) -> list[dict[str, Any]]:
        """Every complete line of results.jsonl; a line cut short by a kill is removed."""
        results = self.path / RESULTS
        if not results.exists():
            return []
        records, complete = [], 0
        with results.open('rb') as lines:
            for number, line in enumerate(lines, 1):
                if not line.endswith(b'\n'):
                    break
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    raise InputError(f'{results} line {number} is not JSON; remove the line '
                                     'or the file to go on') from None
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
        stored, results = self.path / SETTINGS, self.path / RESULTS
        settings = json.loads(json.dumps(settings))
        if stored.exists() and results.exists() and results.stat().st_size:
            before = json.loads(stored.read_text(encoding='utf-8'))
            changed = sorted(k for k in before.keys() | settings.keys()
                             if before.get(k) != settings.get(k))
            if changed:
                raise InputError(
                    f'{self.path} holds results of a run with other settings '
                    f'({", ".join(changed)}); use another --out or delete {self.path / RESULTS}')
        stored.write_text(json.dumps(settings, indent=2) + '\n', encoding='utf-8')
