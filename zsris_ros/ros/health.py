"""
What the node reports on /diagnostics: model state, queue, failures and latency per stage.

Free of ROS so the figures can be tested directly; the node turns a `Health` report into a
diagnostic_msgs/DiagnosticStatus (messages.diagnostic_status).
"""

from collections import Counter, deque
from dataclasses import dataclass
import threading

import numpy as np

# The levels of diagnostic_msgs/DiagnosticStatus.
OK, WARN, ERROR = 0, 1, 2
# Answers that are not answers: the command was lost, failed or found no camera.
FAILED = ('error', 'dropped', 'timeout', 'no_image')
# A queue this full drops the next burst of commands.
QUEUE_WARN_FRACTION = 0.8
# This many failures in a row, with nothing answered in between, is an outage, not bad luck.
OUTAGE_RUN = 5


@dataclass(frozen=True)
class Health:
    """One diagnostics report: a level, a sentence for operators, and the figures behind it."""

    level: int
    message: str
    values: dict[str, str]


class HealthMonitor:
    """Keeps the outcome and stage timings of the last `window` commands, and totals."""

    def __init__(self, window: int) -> None:
        """Start empty; `record` may be called from any thread."""
        self._lock = threading.Lock()
        self._recent: deque[tuple[str, dict[str, float]]] = deque(maxlen=window)
        self._totals: Counter[str] = Counter()

    def record(self, status: str, timings_ms: dict[str, float]) -> None:
        """Count one answered command."""
        with self._lock:
            self._recent.append((status, dict(timings_ms)))
            self._totals[status] += 1

    def report(self, model_state: str, problem: str, queue_depth: int,
               queue_capacity: int) -> Health:
        """
        Judge the node's health now.

        `model_state` is ready, loading, failed (then `problem` says why) or a lifecycle state
        (unconfigured, inactive) in which the node does not answer. Errors mean the
        node cannot answer (models failed, or the last OUTAGE_RUN commands all failed);
        warnings mean answers are at risk (still loading, queue nearly full, recent failures).
        """
        with self._lock:
            recent = list(self._recent)
            totals = Counter(self._totals)
        statuses = [status for status, _ in recent]
        failed = Counter(s for s in statuses if s in FAILED)
        level, message = self._judge(model_state, problem, statuses, failed,
                                     queue_depth, queue_capacity)
        values = {'model state': model_state, 'queue depth': f'{queue_depth}/{queue_capacity}',
                  'commands answered': str(sum(totals.values()))}
        values.update({f'total {status}': str(totals[status]) for status in FAILED})
        values.update(latency_percentiles([timings for _, timings in recent]))
        return Health(level, message, values)

    @staticmethod
    def _judge(model_state: str, problem: str, statuses: list[str], failed: Counter,
               queue_depth: int, queue_capacity: int) -> tuple[int, str]:
        if model_state == 'failed':
            return ERROR, problem or 'models failed to load'
        tail = statuses[-OUTAGE_RUN:]
        if len(tail) == OUTAGE_RUN and all(status in FAILED for status in tail):
            return ERROR, f'the last {OUTAGE_RUN} commands all failed ({tail[-1]})'
        if model_state != 'ready':
            return WARN, f'not serving: {model_state}'
        if queue_depth >= QUEUE_WARN_FRACTION * queue_capacity:
            return WARN, f'command queue nearly full ({queue_depth}/{queue_capacity})'
        if failed:
            kinds = ', '.join(f'{count} {status}' for status, count in sorted(failed.items()))
            return WARN, (f'{sum(failed.values())} of the last {len(statuses)} commands '
                          f'failed ({kinds})')
        return OK, 'ready'


def latency_percentiles(timings: list[dict[str, float]]) -> dict[str, str]:
    """Median and 95th percentile (ms) of each stage over the commands that reached it."""
    stages = sorted({stage for row in timings for stage in row})
    figures = {}
    for stage in stages:
        values = np.array([row[stage] for row in timings if stage in row], dtype=float)
        p50, p95 = np.percentile(values, (50, 95))
        figures[f'{stage} p50 ms'] = f'{p50:.1f}'
        figures[f'{stage} p95 ms'] = f'{p95:.1f}'
    return figures
