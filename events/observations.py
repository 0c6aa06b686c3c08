"""One appearance of something in a stream, followed as one observation: open, extend, re-emit, close.

A logo in view for a minute, or a protected programme playing along, is one
observation with one ``observation_id``, reported as evidence whose span
grows: when it opens, again every ``reemit_interval_s`` while it is still
seen (so rules with a minimum duration see it grow), and once more with its
final span when it has not been seen for more than ``max_gap_s`` or the
stream ends, unless that span was already reported.

What counts as "the same thing seen again" is each detector's own (a logo's
brand and place, a programme's time offset) and stays in its stage; this is
the bookkeeping around it, shared through the ground floor because stages do
not import each other. OCR follows text its own way (``ocr.tracking``: misses
in partial reads, text that settles, an explicit end event).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Generic, TypeVar


@dataclass
class Observation:
    """A span of media time from first to last sighting; detectors subclass it with what they saw.

    ``emitted_until``: the ``last`` of the last evidence reported; ``last_emit``: when (media time)
    that was. Set both with ``reported``.
    """

    observation_id: str
    first: float
    last: float
    _: KW_ONLY
    emitted_until: float = -1.0
    last_emit: float = float("-inf")

    @property
    def unreported(self) -> bool:
        """Seen since its last evidence."""
        return self.last > self.emitted_until

    def reported(self, now: float) -> None:
        """Evidence of the span so far was emitted at media time ``now``."""
        self.emitted_until, self.last_emit = self.last, now


Obs = TypeVar("Obs", bound=Observation)


class ObservationTracker(Generic[Obs]):
    """The open observations of one stream, in the order they opened.

    The detector matches what it sees against ``open``, then calls ``start`` for
    something new, ``extend`` for something seen again, ``expire`` once per input,
    and ``finish`` at the end of the stream; it emits evidence for what they return
    and calls ``Observation.reported`` when it does.
    """

    def __init__(self, max_gap_s: float, reemit_interval_s: float) -> None:
        self.max_gap_s = max_gap_s
        self.reemit_interval_s = reemit_interval_s
        self.open: list[Obs] = []

    def start(self, obs: Obs) -> Obs:
        """A new observation (its first evidence is due now)."""
        self.open.append(obs)
        return obs

    def extend(self, obs: Obs, t: float) -> bool:
        """Seen again at media time ``t``; True when its evidence is due again."""
        obs.last = t
        return t - obs.last_emit >= self.reemit_interval_s

    def expire(self, t: float) -> list[Obs]:
        """Close what has not been seen for more than ``max_gap_s`` at ``t``; those with an unreported span."""
        gone = [o for o in self.open if t - o.last > self.max_gap_s]
        if gone:
            self.open = [o for o in self.open if t - o.last <= self.max_gap_s]
        return [o for o in gone if o.unreported]

    def finish(self) -> list[Obs]:
        """The stream ended: close everything; those with an unreported span."""
        ended, self.open = self.open, []
        return [o for o in ended if o.unreported]
