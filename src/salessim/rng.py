"""Named random streams: one per purpose, per replication.

Every stream is seeded from ``SeedSequence(root_seed, spawn_key=(replication,
stable_key(name)))``. The key is a fixed hash of the name, never its position in a list
and never Python's salted ``hash()``, so adding a stage in a redesign leaves every other
stream as it was: baseline and redesign see the same leads, with the same values and the
same luck wherever the process is the same (common random numbers).

Stream names used by the model (``<x>`` is a source or stage id):

- ``arrivals:<source>``: inter-arrival times of a source's leads;
- ``lead:<source>``: a lead's own attributes (deal value), drawn once at creation;
- ``work:<stage>``, ``delay:<stage>``, ``patience:<stage>``: times at a stage;
- ``route:<stage>:<source>``: the uniform that picks where a deal goes after its first
  visit to a stage, drawn for every lead when it is created, so a lead's luck at a stage
  does not depend on the order in which events happen;
- ``route:<stage>``: the same for later visits (loops), in the order they happen.
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Bumped if the way streams are derived ever changes; recorded in run metadata.
STREAM_SCHEME = "salessim-streams-v1: SeedSequence(root, spawn_key=(replication, sha256(name)[:4]))"


def stable_key(name: str) -> int:
    """A 32-bit key for a stream name, the same on every machine and in every process."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "big")


class RandomStreams:
    """The random streams of one replication.

    Args:
        root_seed: the experiment's seed.
        replication: the replication number (0-based).
    """

    def __init__(self, root_seed: int, replication: int) -> None:
        self.root_seed = int(root_seed)
        self.replication = int(replication)

    def generator(self, name: str) -> np.random.Generator:
        """A fresh Generator for the named stream (the same name gives the same draws)."""
        seq = np.random.SeedSequence(self.root_seed, spawn_key=(self.replication, stable_key(name)))
        return np.random.Generator(np.random.PCG64(seq))
