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
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from drain3.drain import Drain

from chronosops.core.canonical import content_hash

LINE_MAX = 4096
TEMPLATE_MAX = 300
WILDCARD = "<*>"

# One configuration for the product, the CLI and the Loghub benchmark alike.
SIMILARITY = 0.6
DEPTH = 5
MAX_CHILDREN = 100
# At most this many plain words at a position make it words of the message, not a value.
WORDS_MAX = 3
# Templates remembered per service between runs.
REMEMBERED_MAX = 1000

# (placeholder, needs, pattern) in order: wider shapes first, so that a URL is not cut into a path
# and numbers, an e-mail address not into words and a host. A pattern runs only on text that
# holds one of its ``needs`` ("0" stands for any digit): most lines skip most patterns.
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MASKS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("<url>", ("://",), re.compile(r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,15}://[^\s\"'<>]{1,2048}")),
    (
        "<email>",
        ("@",),
        re.compile(r"(?<![\w.%+-])[\w.%+-]{1,64}@[a-z0-9-]{1,63}\.[a-z0-9.-]{0,190}[a-z]{2,24}\b"),
    ),
    # A file path has two segments at least: a lone /payments is a route worth reading.
    (
        "<path>",
        ("/", "\\"),
        re.compile(
            r"(?<![\w.~/\\-])(?:~|\.{1,2})?/[\w.~-]{1,255}/[\w.~/@%+-]{1,1023}"
            r"|(?<![\w])[a-z]:\\[^\s\"'<>|]{1,1024}"
        ),
    ),
    # Timestamps inside messages: ISO 8601, and syslog/ctime (Fri Jun 17 07:07:00 2005) only
    # where a month's name is.
    (
        "<time>",
        (":",),
        re.compile(
            r"(?<![\w.-])\d{4}-\d\d-\d\d[t ]\d\d:\d\d(?::\d\d(?:[.,]\d{1,9})?)?(?:z|[+-]\d\d:?\d\d)?(?![\w])"
        ),
    ),
    (
        "<time>",
        _MONTHS,
        re.compile(
            r"(?<![\w])(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]{0,6},? )?"
            r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.? {1,2}\d{1,2},?"
            r"(?: \d\d:\d\d(?::\d\d(?:[.,]\d{1,9})?)?)?(?: \d{4})?(?![\w])"
        ),
    ),
    (
        "<uuid>",
        ("-",),
        re.compile(
            r"(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])"
        ),
    ),
    (
        "<ip>",
        (".", ":"),
        re.compile(
            r"(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?::\d{1,5})?(?![\w.])"
            # IPv6 with three colons at least, so that a time (07:07:00) is not one
            r"|(?<![\w:])[0-9a-f]{1,4}:[0-9a-f]{0,4}:[0-9a-f]{0,4}:[0-9a-f:]{0,30}[0-9a-f](?![\w:])"
        ),
    ),
    ("<hex>", ("0x",), re.compile(r"(?<![\w])0x[0-9a-f]{1,64}(?![\w])")),
    # A bare hex id (span and trace ids, hashes, zero-padded counters): 8+ hex digits, one a digit.
    (
        "<hex>",
        ("0",),
        re.compile(r"(?<![\w-])(?=[0-9a-f]{0,63}[0-9])[0-9a-f]{8,64}(?![\w-])"),
    ),
    # Long opaque tokens (base64, API keys, block ids) that carry a digit.
    (
        "<token>",
        ("0",),
        re.compile(r"(?<![\w+/=-])(?=[\w+/-]{0,127}[0-9])[\w+/-]{20,1024}={0,2}(?![\w+/=-])"),
    ),
    # A quoted single value with a digit or a separator in it ("db-7", '10:30'); a quoted word
    # ('Active') is usually a state worth keeping, and quoted text with spaces is a message
    # (logfmt's msg="...") that Drain reads.
    (
        "<quoted>",
        ('"', "'"),
        re.compile(
            r"(?<![\w\"])\"(?=[^\"\s]{0,255}[^a-z\"\s])[^\"\s]{1,256}\"(?!\w)"
            r"|(?<![\w'])'(?=[^'\s]{0,255}[^a-z'\s])[^'\s]{1,256}'(?!\w)"
        ),
    ),
    # Numbers with an optional sign, decimals, separators and a short unit (2.5s, 300ms, 12kb),
    # also inside a token after punctuation (core.2275, blk_-1608, 2017-07-03_13).
    (
        "<num>",
        ("0",),
        re.compile(r"(?<![a-z0-9])[-+]?\d(?:[\d.,:]{0,62}\d)?(?:[a-z%]{1,4})?(?![a-z0-9])"),
    ),
)
# Where a mask's ``needs`` are too common to rule much out (most log lines hold ":", "." and "-"),
# a shape that every match of it holds, starting with a literal so that it is found at the speed
# of a substring search: a line without it is not scanned by the mask (whose leading look-behind
# makes every position a start). Keyed by the mask's place in ``_MASKS``.
_HINTS: dict[int, re.Pattern[str]] = {
    3: re.compile(r"-\d\d-\d\d[t ]\d\d:"),  # an ISO 8601 date and hour
    5: re.compile(r"-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"),  # a UUID's middle
    # An IPv4 address's last three parts, or two colons of an IPv6 address.
    6: re.compile(r"\.\d{1,3}\.\d{1,3}\.\d|:[0-9a-f]{0,4}:"),
}
# Each mask with its hint, read in one pass. The hint used to be found by the pattern in a dict,
# and a compiled pattern hashes its whole compiled code on every lookup.
_STEPS: tuple[tuple[str, tuple[str, ...], re.Pattern[str], re.Pattern[str] | None], ...] = tuple(
    (placeholder, needs, pattern, _HINTS.get(index))
    for index, (placeholder, needs, pattern) in enumerate(_MASKS)
)
_DIGIT = re.compile(r"[0-9]")
_SPACES = re.compile(r"\s+")
# A word of the message, not a key=value pair, a path or a number: letters, then maybe a full stop.
_PLAIN_WORD = re.compile(r"[a-z][a-z_-]{0,63}[.,;!]?")


def _is_parameter(token: str) -> bool:
    return "<" in token or any(char.isdigit() for char in token)


def _masked(text: str, digits: bool) -> str:
    """The masks run in order over lower-cased ``text``, each only where it could match;
    ``digits``: whether the line ``text`` comes from holds an ASCII digit (the need "0")."""
    # The needs are looked for in the text as it came (a placeholder holds none of them), each
    # once, and only when a mask asks: the twelve month names only for the syslog time.
    original = text
    present: dict[str, bool] = {}
    for placeholder, needs, pattern, hint in _STEPS:
        for need in needs:
            held = present.get(need)
            if held is None:
                held = present[need] = digits if need == "0" else need in original
            if held:
                break
        else:
            continue
        if hint is None or hint.search(text):
            text = pattern.sub(placeholder, text)
    return text


def mask(message: str) -> str:
    """The message with variable values replaced by placeholders, lower-cased and trimmed."""
    text = message[:LINE_MAX].lower()
    return _SPACES.sub(" ", _masked(text, _DIGIT.search(text) is not None)).strip()


# Only a time written with a space ("2024-01-15 10:00:05", "Fri Jun 17 07:07:00 2005") is a
# match that holds whitespace: every other mask matches within a run of non-space characters, and
# every look-around reads a space as it reads the end of the text (none of their classes holds
# one). So a line masks as its chunks do one by one, where chunks are cut at the runs of
# whitespace that no time can hold. Such a time holds one of these shapes, as does the line it
# came from (a placeholder holds neither digits nor a month's name, nor a space). Two searches,
# each led by a literal (or one of twelve words) the regex engine skips to: as one alternation
# it tried every position of the line, ~4x slower.
_SPACED_TIMES = (
    re.compile(r"-\d\d \d\d:"),  # 2024-01-15 10:
    re.compile(r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.? {1,2}\d"),
)
_WHITESPACE_RUNS = re.compile(r"(\s+)")
# The words a time's space can follow, at the end of the text before it: a month's name
# ("jun 17", "jun. 17"), a day's name ("fri jun"); any other space a time holds has a digit
# after it and a digit or a comma before it.
_MONTH_BEFORE = re.compile(r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.?$")
_DAY_BEFORE = re.compile(r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]{0,6},?$")
_MONTH_INITIALS = frozenset("jfmasond")


def _time_may_hold(gap: str, before: str, after: str) -> bool:
    """Whether a time written with spaces could hold the whitespace ``gap`` between the words
    ``before`` and ``after``: one or two plain spaces, between the parts of a date or a time."""
    if gap not in (" ", "  ") or not before or not after:
        return False
    if after[0].isdecimal():  # what \d matches
        return (
            before[-1].isdecimal() or before[-1] == "," or _MONTH_BEFORE.search(before) is not None
        )
    return after[0] in _MONTH_INITIALS and _DAY_BEFORE.search(before) is not None


def _chunks(text: str) -> list[str]:
    """``text`` cut at the runs of whitespace no time can hold; the runs a time may hold stay
    inside their chunk."""
    parts = _WHITESPACE_RUNS.split(text)  # word, gap, word, gap, …, word
    chunks: list[str] = []
    current = parts[0]
    for index in range(1, len(parts), 2):
        gap, word = parts[index], parts[index + 1]
        if _time_may_hold(gap, parts[index - 1], word):
            current += gap + word
        else:
            if current:
                chunks.append(current)
            current = word
    if current:
        chunks.append(current)
    return chunks


@dataclass
class WordMasks:
    """`mask` for many lines, each chunk of words masked once.

    Lines of one system repeat their words with a new id here and there (TrainTicket's 3,000
    lines of a bundle are 2,956 distinct lines of 2,725 distinct words): a line masks as its
    chunks do (see `_chunks`: its words, except where a time written with spaces may hold the
    space between two), so each distinct chunk is masked once.
    """

    _masked_chunks: dict[tuple[str, bool], str] = field(default_factory=dict, repr=False)

    def mask(self, message: str) -> str:
        text = message[:LINE_MAX].lower()
        spaced = any(shape.search(text) for shape in _SPACED_TIMES)
        # "0" is read from the whole line, as `mask` reads it: a chunk without an ASCII digit is
        # still read for numbers (of another script, which ``\d`` matches) when the line has one.
        digits = _DIGIT.search(text) is not None
        known = self._masked_chunks
        masked: list[str] = []
        for chunk in _chunks(text) if spaced else text.split():
            key = (chunk, digits)
            found = known.get(key)
            if found is None:
                found = known[key] = _masked(chunk, digits)
            masked.append(found)
        joined = " ".join(masked)
        # A chunk keeps the spaces a time might have held: collapsed as `mask` collapses them.
        return _SPACES.sub(" ", joined) if spaced else joined


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
        # A placeholder is a parameter like a token with digits: Drain must not branch on it.
        self._drain.has_numbers = _is_parameter
        for template in self.known:
            self._add(template)

    def _add(self, masked: str) -> int:
        cluster_id = self._cluster_of.get(masked)
        if cluster_id is None:
            cluster, _ = self._drain.add_log_message(masked)
            cluster_id = int(cluster.cluster_id)
            self._cluster_of[masked] = cluster_id
        return cluster_id

    def templates_of(self, masked: Sequence[str]) -> dict[str, str]:
        """The final template of each distinct masked message, after all of them are in.

        Drain widens a position to ``<*>`` as soon as two messages differ there. When the
        messages of a cluster show only a few plain words at such a position (``VM Started``,
        ``VM Paused``, ``VM Resumed``), the word is part of the message, not a value: each
        keeps its own template.
        """
        clusters = {text: self._add(text) for text in masked}
        # Known templates count as members: a word split once stays split, and a position
        # widened to <*> in an earlier run stays a value.
        members: dict[int, list[list[str]]] = defaultdict(list)
        for text, cluster_id in self._cluster_of.items():
            members[cluster_id].append(text.split())
        words_at: dict[int, dict[int, set[str]]] = {}
        for cluster_id, tokens_of in members.items():
            template = self._drain.id_to_cluster[cluster_id].log_template_tokens
            words_at[cluster_id] = {}
            for position, token in enumerate(template):
                if token != WILDCARD:
                    continue
                words = {tokens[position] for tokens in tokens_of if position < len(tokens)}
                if 2 <= len(words) <= WORDS_MAX and all(map(_PLAIN_WORD.fullmatch, words)):
                    words_at[cluster_id][position] = words
        final: dict[str, str] = {}
        for text, cluster_id in clusters.items():
            tokens = list(self._drain.id_to_cluster[cluster_id].log_template_tokens)
            if words_at[cluster_id]:
                own = text.split()
                for position in words_at[cluster_id]:
                    tokens[position] = own[position]
            final[text] = " ".join(tokens)[:TEMPLATE_MAX] or "<empty>"
        return final

    def templates(self) -> list[str]:
        """Every template, oldest cluster first: the state worth keeping for the next run."""
        clusters = sorted(self._drain.clusters, key=lambda c: c.cluster_id)
        return [str(c.get_template()) for c in clusters]


def mine(messages: Iterable[str], *, known: Sequence[str] = ()) -> list[str]:
    """The final template of each message, in order.

    Identical messages are masked once (and their words, `WordMasks`) and identical masked
    messages reach Drain once, so the cost grows with the number of distinct shapes, not of
    lines.
    """
    masked_of: dict[str, str] = {}
    masked: list[str] = []
    words = WordMasks()
    for message in messages:
        text = masked_of.get(message)
        if text is None:
            text = masked_of[message] = words.mask(message)
        masked.append(text)
    final = TemplateMiner(known=known).templates_of(list(dict.fromkeys(masked)))
    return [final[text] for text in masked]


def remembered(
    known: Sequence[str], found: Iterable[str], *, limit: int = REMEMBERED_MAX
) -> list[str]:
    """What to keep for a service's next run: its known templates, then the new ones, the
    ``limit`` most recent."""
    kept = list(dict.fromkeys([*known, *found]))
    return kept[-limit:]
