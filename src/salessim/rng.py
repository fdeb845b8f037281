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
- ``route:<stage>``: the same for later visits (loops), in the order they happen;
- ``exit:<stage>:<target>``: the latent time of one exit of a stage with ``exits``
  (competing risks), drawn at every visit for every exit, so each exit's draws are its
  own whatever the others do;
- ``open:<deal id>``: a deal open at time 0 (a warm start), its own: the rest of its time
  in its stage and its first routing draw at every stage. Keyed by the deal's id, never by
  its place in the pipeline, so a deal keeps its draws when other deals or other stages
  change. Drawn by :meth:`RandomStreams.keyed`, a counter-based generator (SplitMix64's
  output function on the stream's seed, the key and the draw's number), so thousands of
  deals cost one vectorised call instead of a generator each.
- ``open-exit:<deal id>``: for a deal open in a stage with ``exits``, one uniform per exit
  (its remaining latent time given its age), keyed the same way.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

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

    def keyed(self, stream: str, keys: npt.ArrayLike, n: int) -> npt.NDArray[np.float64]:
        """``n`` uniforms on (0, 1) for each key: row i is stream ``<stream>:<key i>``.

        Row i depends only on the root seed, the replication, ``stream``, ``keys[i]`` and
        the column: adding or removing other keys leaves it as it was.
        """
        seq = np.random.SeedSequence(self.root_seed,
                                     spawn_key=(self.replication, stable_key(stream)))
        base = seq.generate_state(1, np.uint64)[0]
        start = _mix(np.asarray(keys, dtype=np.uint64) ^ base)
        steps = np.arange(1, n + 1, dtype=np.uint64) * _GAMMA
        bits = _mix(start[:, None] + steps[None, :])
        # numpy's stubs lose the dtype through shifts and scalar arithmetic: declared here.
        top53 = (bits >> np.uint64(11)).astype(np.float64)
        uniforms: npt.NDArray[np.float64] = (top53 + 0.5) * 2.0**-53
        return uniforms


def key64(name: str) -> int:
    """A 64-bit key for a name (a deal id), the same on every machine."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


#: SplitMix64's increment and its output function's constants (Steele, Lea, Flood 2014).
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's output function, on arrays of uint64 (products wrap modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    mixed: npt.NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return mixed
