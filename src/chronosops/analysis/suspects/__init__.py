"""Which services changed most at the onset, whatever their metrics are called.

A ranking of every service by how far its own signals moved, BARO-style (median and MAD of
the baseline, the median after the onset, per-kind unit floors so a zero or flat baseline
never reads as infinitely far off), with the lessons of the RCA literature:

- direction-aware: latency, errors, CPU up; availability down; traffic either way, weakly;
- support: a latency series of a near-idle service (well under a request a second) says
  little, so it is weighed by its traffic; fewer than four baseline points say nothing;
- edge metrics (labelled with a peer) belong to the callee as much as the caller;
- logs: error lines in excess of the baseline and templates that vanished, per service,
  normalised by the total volume (sampling changes the volume, not the mix);
- callee over caller: where a call graph is known (edges from span peers, edge metrics,
  topology events), an anomalous service whose callee is as anomalous steps aside for it;
- a call measured from both ends is read on the gap between them, minute by minute, and a
  service's calls per direction (a slow network slows the calls through it one way at least);
- code faults without logs: calls each request made that stopped while the requests kept
  coming, and operations cut to a fraction of their time, are the service's own code path.

The ranking names a culprit and a cause family when the rules that read specific mechanisms
(`hypotheses`) have nothing decisive; it is also what the culprits after the first come from.
"""

from chronosops.analysis.suspects.cut import strength_of
from chronosops.analysis.suspects.load import cpu_beyond_load, own_time_calm
from chronosops.analysis.suspects.logs import log_key
from chronosops.analysis.suspects.ranking import rank_suspects
from chronosops.analysis.suspects.suspect import Suspect

__all__ = [
    "Suspect",
    "cpu_beyond_load",
    "log_key",
    "own_time_calm",
    "rank_suspects",
    "strength_of",
]
