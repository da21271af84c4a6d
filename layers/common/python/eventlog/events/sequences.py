"""Per-app event numbers (seed 000's integer event ids): 1, 2, 3... never reused.

Each app has a counter in the events table (`eventlog.storage.event_store`, never expiring, so a
number outlives its event and is never handed out again). A container takes a block of numbers
with one atomic `ADD` that returns the new top, then hands the block out from memory: the counter
is written once per block, not once per event, so one app's ingestion is not capped by one item's
write rate (about 1,000 writes a second, i.e. up to 100,000 numbers a second at MAX_BLOCK).

The block adapts to how fast the previous one was used: the next one holds about
BLOCK_SECONDS worth of numbers at that rate, at least 1, at most twice the previous one and
MAX_BLOCK. A quiet app thus takes one number at a time, and its numbers stay contiguous even when
containers come and go; a busy container writes the counter about once per MAX_BLOCK events.
What this costs: numbers of concurrent containers interleave (each is ascending within its
container, not across them), and when a container is recycled the unused rest of its block,
about BLOCK_SECONDS of its events at most, is skipped.
"""

import math
import threading
import time
from dataclasses import dataclass

from eventlog.storage import event_store

MAX_BLOCK = 100
# How long a block should last at the rate the previous one was used.
BLOCK_SECONDS = 10.0


@dataclass
class _Block:
    next: int  # the next number to hand out
    top: int  # the last number of the block
    size: int
    taken_at: float  # time.monotonic() of the refill


_blocks: dict[int, _Block] = {}
_lock = threading.Lock()


def _take_block(app_id: int, size: int) -> _Block:
    top = event_store.take_numbers(app_id, size)
    return _Block(next=top - size + 1, top=top, size=size, taken_at=time.monotonic())


def _next_size(previous: _Block | None) -> int:
    if previous is None:
        return 1
    seconds = max(time.monotonic() - previous.taken_at, 1e-3)
    lasting = math.ceil(previous.size * BLOCK_SECONDS / seconds)
    return max(1, min(lasting, previous.size * 2, MAX_BLOCK))


def next_number(app_id: int) -> int:
    """The app's next event number (thread-safe; one counter write per block)."""
    with _lock:
        block = _blocks.get(app_id)
        if block is None or block.next > block.top:
            block = _blocks[app_id] = _take_block(app_id, _next_size(block))
        number = block.next
        block.next += 1
        return number
