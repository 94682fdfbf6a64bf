"""How much memory this process holds now: one reading for the node's logs and the bench."""

import os
import resource


def resident_bytes() -> int:
    """Return the resident set size now (Linux /proc; the peak where there is no /proc)."""
    try:
        with open('/proc/self/statm') as statm:
            return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
