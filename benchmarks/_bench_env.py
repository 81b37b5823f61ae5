"""Environment shared by every benchmark server process.

glibc's malloc adjusts its mmap and trim thresholds from the allocation
history, so the same server can pay a page-fault round trip per large
``recv()`` buffer or not, depending on what it imported first: asyncio's
256 KiB reads were measured here at 25 us/message or 9 us/message for one
and the same stock loop. Fixed thresholds make every server pay the same.
"""
from typing import Dict

FIXED_MALLOC: Dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(8 << 20),
}
