"""Log template mining: masking of variable values, then Drain (the `drain3` library).

Masking runs first and does most of the work: ids, hex, UUIDs, IPs, numbers, paths, quoted
values, e-mail addresses and URLs become placeholders, so lines that differ only in values are
already identical. Drain then groups what masking could not see (user names, host names, words
that vary) by position-wise token similarity within lines of the same length and prefix.

Every pattern here runs on untrusted text (an analyst's ``evidenceLite`` message, a backend's
log page). Each is written so that a match can start only at the first character of a run of
the characters it consumes (a negative look-behind on that same class) and every repetition is
bounded, so a pattern costs time linear in the line; the text a pattern sees is also capped at
``LINE_MAX`` characters.

A template's id is a hash of the service and the final template text: the same template on the
same service gets the same id in every run, in baselines and incidents alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from drain3.drain import Drain

from chronosops.core.canonical import content_hash

LINE_MAX = 4096
TEMPLATE_MAX = 300
WILDCARD = "<*>"

# One configuration for the product, the CLI and the Loghub benchmark alike.
SIMILARITY = 0.4
DEPTH = 4
MAX_CHILDREN = 100

# (placeholder, pattern) in order: wider shapes first, so that a URL is not cut into a path and
# numbers, an e-mail address not into words and a host.
_MASKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("<url>", re.compile(r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,15}://[^\s\"'<>]{1,2048}")),
    (
        "<email>",
        re.compile(r"(?<![\w.%+-])[\w.%+-]{1,64}@[a-z0-9-]{1,63}\.[a-z0-9.-]{0,190}[a-z]{2,24}\b"),
    ),
    (
        "<uuid>",
        re.compile(
            r"(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])"
        ),
    ),
    (
        "<ip>",
        re.compile(
            r"(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?::\d{1,5})?(?![\w.])"
            # IPv6 only in its long forms with at least three groups
            r"|(?<![\w:])[0-9a-f]{1,4}:[0-9a-f]{0,4}:[0-9a-f:]{1,34}[0-9a-f](?![\w:])"
        ),
    ),
    ("<hex>", re.compile(r"(?<![\w])0x[0-9a-f]{1,64}(?![\w])")),
    # A bare hex id (span and trace ids, hashes): 8+ hex characters with a digit and a letter.
    (
        "<hex>",
        re.compile(
            r"(?<![\w-])(?=[0-9a-f]{0,63}[0-9])(?=[0-9a-f]{0,63}[a-f])[0-9a-f]{8,64}(?![\w-])"
        ),
    ),
    # A file path has two segments at least: a lone /payments is a route worth reading.
    (
        "<path>",
        re.compile(
            r"(?<![\w.~/\\-])(?:~|\.{1,2})?/[\w.~-]{1,255}/[\w.~/@%+-]{1,1023}"
            r"|(?<![\w])[a-z]:\\[^\s\"'<>|]{1,1024}"
        ),
    ),
    # Long opaque tokens (base64, API keys, block ids) that carry a digit.
    (
        "<token>",
        re.compile(r"(?<![\w+/=-])(?=[\w+/-]{0,127}[0-9])[\w+/-]{20,1024}={0,2}(?![\w+/=-])"),
    ),
    # A quoted single value ("alice", 'db-7'); quoted text with spaces is a message (logfmt's
    # msg="...") and stays for Drain to read.
    (
        "<quoted>",
        re.compile(r"(?<![\w\"])\"[^\"\s]{1,256}\"(?!\w)|(?<![\w'])'[^'\s]{1,256}'(?!\w)"),
    ),
    # Numbers with an optional sign, decimals, separators and a short unit (2.5s, 300ms, 12kb).
    ("<num>", re.compile(r"(?<![\w.])[-+]?\d(?:[\d.,:]{0,62}\d)?(?:[a-z%]{1,4})?(?![\w])")),
)
_SPACES = re.compile(r"\s+")


def mask(message: str) -> str:
    """The message with variable values replaced by placeholders, lower-cased and trimmed."""
    text = message[:LINE_MAX].lower()
    for placeholder, pattern in _MASKS:
        text = pattern.sub(placeholder, text)
    return _SPACES.sub(" ", text).strip()


def log_template(message: str) -> str:
    """The template of one message on its own: its masked form, cut at 300 characters."""
    return mask(message)[:TEMPLATE_MAX] or "<empty>"


def template_id(service: str | None, template: str) -> str:
    """A stable id for a template of a service: the same in every run, baseline or incident."""
    return content_hash([service or "", template])[:16]


@dataclass
class TemplateMiner:
    """Drain over masked messages, fed each distinct masked message once.

    ``known`` templates (from an earlier run for the same service) are fed first, so that
    messages that fit them keep their template and its id.
    """

    known: Sequence[str] = ()
    _drain: Drain = field(init=False, repr=False)
    _cluster_of: dict[str, int] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._drain = Drain(
            depth=DEPTH, sim_th=SIMILARITY, max_children=MAX_CHILDREN, param_str=WILDCARD
        )
        for template in self.known:
            self._add(template)

    def _add(self, masked: str) -> int:
        cluster_id = self._cluster_of.get(masked)
        if cluster_id is None:
            cluster, _ = self._drain.add_log_message(masked)
            cluster_id = int(cluster.cluster_id)
            self._cluster_of[masked] = cluster_id
        return cluster_id

    def add(self, message: str) -> int:
        """The cluster a raw message joins (its template may still widen with later messages)."""
        return self._add(mask(message))

    def template(self, cluster_id: int) -> str:
        """The cluster's template as it stands now."""
        text = str(self._drain.id_to_cluster[cluster_id].get_template())
        return text[:TEMPLATE_MAX] or "<empty>"

    def templates(self) -> list[str]:
        """Every template, oldest cluster first: the state worth keeping for the next run."""
        clusters = sorted(self._drain.clusters, key=lambda c: c.cluster_id)
        return [str(c.get_template()) for c in clusters]


def mine(messages: Iterable[str], *, known: Sequence[str] = ()) -> list[str]:
    """The final template of each message, in order.

    Identical messages are masked once and identical masked messages reach Drain once, so the
    cost grows with the number of distinct shapes, not of lines.
    """
    miner = TemplateMiner(known=known)
    masked_of: dict[str, int] = {}
    clusters: list[int] = []
    for message in messages:
        cluster_id = masked_of.get(message)
        if cluster_id is None:
            cluster_id = miner.add(message)
            masked_of[message] = cluster_id
        clusters.append(cluster_id)
    final = {cluster_id: miner.template(cluster_id) for cluster_id in set(clusters)}
    return [final[cluster_id] for cluster_id in clusters]
