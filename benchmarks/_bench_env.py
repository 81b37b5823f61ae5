"""What every benchmark process shares: environment, limits, CPU readings.

glibc's malloc adjusts its mmap and trim thresholds from the allocation
history, so the same server can pay a page-fault round trip per large
``recv()`` buffer or not, depending on what it imported first: asyncio's
256 KiB reads were measured here at 25 us/message or 9 us/message for one
and the same stock loop. Fixed thresholds make every server pay the same.
"""
import os
from typing import Dict, Tuple

FIXED_MALLOC: Dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(8 << 20),
}


def die_with_parent() -> None:
    """Ask Linux to kill this process if the harness dies without cleaning up."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux, or no libc: the harness still cleans up
        pass


def raise_nofile(want: int) -> None:
    """Raise RLIMIT_NOFILE to ``want`` (OSError when the hard limit is lower)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    if hard != resource.RLIM_INFINITY and hard < want:
        raise OSError("RLIMIT_NOFILE hard limit %d < %d needed" % (hard, want))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def server_cpu(pid: int) -> Tuple[float, float]:
    """User and system CPU seconds of ``pid`` so far (/proc/PID/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) / tick, int(fields[12]) / tick
