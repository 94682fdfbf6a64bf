"""`zsris eval compare`: two runs' metrics.json side by side, with the change from A to B."""

import json
from pathlib import Path
from typing import Any

from ..errors import InputError

Number = int | float


def load_metrics(path: Path) -> dict[str, Any]:
    """Read a metrics.json, or raise an InputError naming the file."""
    try:
        metrics = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as error:
        raise InputError(f'cannot read metrics {path}: {error}') from None
    if not isinstance(metrics, dict):
        raise InputError(f'{path} is not a metrics.json object')
    return metrics


def flatten(metrics: dict[str, Any], prefix: str = '') -> dict[str, Number | None]:
    """Nested numbers as dotted names: latency_ms.total.p50; text values are left out."""
    rows: dict[str, Number | None] = {}
    for key, value in metrics.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            rows.update(flatten(value, name + '.'))
        elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            rows[name] = value
    return rows


def compare_table(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Tabulate metric, A, B and B - A as plain text, for every metric either run has."""
    flat_a, flat_b = flatten(a), flatten(b)
    names = list(flat_a) + [name for name in flat_b if name not in flat_a]
    rows = [('metric', 'A', 'B', 'B - A')]
    for name in names:
        value_a, value_b = flat_a.get(name), flat_b.get(name)
        rows.append((name, _cell(value_a), _cell(value_b), _delta(value_a, value_b)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return '\n'.join(
        '  '.join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                  for i, cell in enumerate(row)).rstrip()
        for row in rows)


def _cell(value: Number | None) -> str:
    if value is None:
        return '-'
    return str(value) if isinstance(value, int) else f'{value:.4f}'


def _delta(a: Number | None, b: Number | None) -> str:
    if a is None or b is None:
        return ''
    difference = b - a
    return f'{difference:+d}' if isinstance(difference, int) else f'{difference:+.4f}'
