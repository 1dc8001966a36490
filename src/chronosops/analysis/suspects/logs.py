"""Log readings: error lines in excess of the baseline and templates that vanished, new error
templates (including those that began in the guard gap), and errors that persist across the
fault."""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from chronosops.analysis.onset import PRIOR_MINUTES
from chronosops.analysis.suspects.cut import Cut, strength_of
from chronosops.analysis.suspects.suspect import Suspect
from chronosops.core.artifacts import ERROR_LEVELS, LogTemplate

# Lines of new error templates a service needs after the onset, with none before them, for
# them to count as new (Nezha: a pattern needs support; one stray line is noise). Counted over
# the service's new templates together, not per template: a log pipeline that keeps half the
# lines (sampled, rate-limited) leaves one line each of two failures where there were two of
# each, and two distinct new failures are no less support than one failure twice.
NEW_ERROR_SUPPORT = 2
# How far before the fault's start the logs must reach for a template to count as new rather
# than merely the first the window shows. Logs are read up to the fault's start, not to the
# metrics' baseline end a minute earlier: that guard gap keeps a slow metric's lag out of its
# baseline, and asking logs to reach past it dropped this reading from bundles whose logs begin
# 50–59 s before the fault (6 of 21 tuned Nezha TrainTicket cases; any value from 0 to 45 s
# gives the same results there).
NEW_ERROR_BASELINE = timedelta(seconds=30)

_VOLATILE = re.compile(
    r"\b[0-9a-f]{6,}\b|\b\S*\d\S*\b|\[[^\]]*[:=][^\]]*\]|\"[^\"]*\"|'[^']*'", re.IGNORECASE
)


def log_key(template: str) -> str:
    """A coarser template: ids, numbers and bracketed or quoted values masked away."""
    return _VOLATILE.sub("<v>", template.lower())[:160]


@functools.lru_cache(maxsize=1024)
def _name_pattern(service: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(service.lower())}(?![\w-])")


def named_peers(text: str, services: Iterable[str]) -> list[str]:
    """The services a log line's text names as a whole word ("empty result from
    pricing-service", "no instances available for ts-basic-service"), as spelled in
    ``services``; a name inside a longer one ("ingress" in "nginx-ingress") is not named."""
    lowered = text.lower()
    return [service for service in services if _name_pattern(service).search(lowered)]


def log_evidence(templates: Sequence[LogTemplate], cut: Cut, suspects: dict[str, Suspect]) -> None:
    groups: dict[tuple[str, str, bool], list[float]] = defaultdict(lambda: [0.0, 0.0])
    # Lines from the reported start on. The fault side begins a minute before it (alerts lag);
    # a usual line that stops at the reported start still logs in that minute, and read as
    # "none after" it never vanished (engine 3.53): it vanished where nothing follows its last
    # minute there, the minute a report may be off by (`REPORT_UNCERTAINTY`, as the stopped
    # paths read it since 3.47), and what it missed is what it did not log on the fault side.
    onward: dict[tuple[str, str, bool], float] = defaultdict(float)
    onset = cut.fault_start + REPORT_UNCERTAINTY
    refs: dict[tuple[str, str, bool], list[str]] = defaultdict(list)
    total = [0.0, 0.0]
    half = timedelta(seconds=30)
    known = sorted({service for t in templates for service in t.services or []})
    for template in templates:
        error = template.error_count * 2 >= template.count or any(
            level in ("WARN", "WARNING") for level in template.levels
        )
        # Drain masks a name that varies: the examples keep it.
        named = (
            named_peers(
                " ".join([template.template, *(e.message for e in template.examples)]), known
            )
            if error
            else []
        )
        for service in template.services or []:
            # Errors and warnings about what a call to a peer returned ("unexpected empty
            # result from pricing-service") are the peer's failure, seen by its caller: they
            # count for the peer, not as the writer's own (as the new and persistent errors
            # below leave them out of the writer's).
            owners = [peer for peer in named if peer != service] or [service]
            for owner in owners:
                key = (owner, log_key(template.template), error)
                refs[key].append(template.artifact_id)
                for point in template.histogram:
                    groups[key][0 if point.ts + half < cut.fault_start else 1] += point.value
                    if point.ts + half >= onset:
                        onward[key] += point.value
            for point in template.histogram:
                total[0 if point.ts + half < cut.fault_start else 1] += point.value
    if total[0] <= 0 or total[1] <= 0:
        return
    scale = total[1] / total[0]
    excess: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # extra errors, expected
    vanished: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # missing, expected
    for (service, name, error), (before, after) in groups.items():
        expected = before * scale
        if error:
            excess[service][0] += max(0.0, after - expected)
            excess[service][1] += expected
        elif expected >= 4 and onward[(service, name, error)] == 0 and after < expected:
            vanished[service][0] += expected - after
        if not error:
            vanished[service][1] += expected
    for service, (extra, expected) in excess.items():
        z = extra / math.sqrt(expected + 1.0)
        if extra >= 3:
            key_refs = [r for (s, _, e), rs in refs.items() if s == service and e for r in rs]
            suspects.setdefault(service, Suspect(service)).note(
                "log_errors", strength_of(z), key_refs[0] if key_refs else f"logs:{service}"
            )
    for service, (missing, expected) in vanished.items():
        z = missing / math.sqrt(max(expected - missing, 0.0) + 1.0)
        if missing >= 4:
            key_refs = [r for (s, _, e), rs in refs.items() if s == service and not e for r in rs]
            suspects.setdefault(service, Suspect(service)).note(
                "log_vanished", strength_of(z), key_refs[0] if key_refs else f"logs:{service}"
            )


def first_error_seen(template: LogTemplate) -> datetime:
    """When the template first logged at an error level. Its examples keep the error lines
    first, in time order; a template without error examples falls back to its first line."""
    return min(
        (e.ts for e in template.examples if e.level in ERROR_LEVELS), default=template.first_seen
    )


# How many lines, at the rate an error template has logged since its first, its silence before
# that must have held for the silence to be telling: P(none) = exp(-expected) <= 0.01. On the
# tuned Nezha TrainTicket cases any value from 3 to 6 gives the same rows (2 names wrong
# services: chronic errors of two or three lines that happen to begin in the gap; 10 loses one).
GUARD_SILENCE_EXPECTED = -math.log(0.01)
# How much earlier than the guard gap a template that began after a telling silence is still
# read as new: the reported start may be late by this much (the anchor's own prior,
# `onset.PRIOR_MINUTES`), and with logs of a few minutes around it the template's own change
# point is the better clue to where the fault began.
REPORT_UNCERTAINTY = timedelta(minutes=PRIOR_MINUTES)
# The latest, after the fault's start (a minute before the reported start), an error template
# may begin and still be read as the fault's new failure: a cause comes before what it causes,
# and an alert fires within minutes of a fault taking hold; a template that begins long after it
# (a flag client's refresh failing ten to forty minutes into the window, at a service the fault
# never reached: three of the 108 tuned cases of the paths suite named that service) is another
# matter that began later. Five minutes past the reported start: the horizon of a code path's
# late stop (`code_paths.LATE_STOP_WITHIN`).
LATE_NEW_ERROR_WITHIN = timedelta(minutes=6)


def _began_in_guard_gap(
    template: LogTemplate, first: datetime, earliest: datetime, latest: datetime, cut: Cut
) -> bool:
    """An error template that began in the guard gap (between the baseline's end and the fault's
    start, where the fault may already be: code faults act before the moment they are reported
    or labelled), after a stretch of logs it was silent in that its own rate since makes
    telling, and that still logs after the fault's start. A change point read from the template
    itself, not from the cut: a template that merely shows its first lines early, or a blip that
    stopped before the fault, stays out."""
    if first < cut.baseline_end - REPORT_UNCERTAINTY or template.last_seen < cut.fault_start:
        return False
    since = (latest - first).total_seconds()
    silence = (first - earliest).total_seconds()
    if since <= 0:
        return False
    return template.error_count / since * silence >= GUARD_SILENCE_EXPECTED


def new_error_templates(
    templates: Sequence[LogTemplate], cut: Cut, suspects: dict[str, Suspect]
) -> None:
    """Error-level templates a service never logged before the fault and logs after it (Nezha's
    new patterns): a code path that started failing. Only when the logs reach at least
    ``NEW_ERROR_BASELINE`` before the fault's start, so a template is new rather than merely the
    first the window shows (where they do not, before the latest start a report early by
    ``REPORT_UNCERTAINTY`` allows, and new from there); warnings stay out (business warnings
    come and go with the traffic mix). Newness is read at the error level: a statement logged at a lower level before and at
    error level after (a code path now treated as failing) is new as an error. A template that
    began in the guard gap counts when its silence before is telling (``_began_in_guard_gap``)."""
    if not templates:
        return
    # New from the fault's start; where the logs begin too late to show what came before it,
    # from the latest start a report early by ``REPORT_UNCERTAINTY`` allows (an alert that
    # fires a minute early is read against the logs its collector fetched for it).
    start = cut.fault_start
    if min(t.first_seen for t in templates) > start - NEW_ERROR_BASELINE:
        start += REPORT_UNCERTAINTY
        if min(t.first_seen for t in templates) > start - NEW_ERROR_BASELINE:
            return
    known = {service.lower() for t in templates for service in t.services or []}
    earliest = min(t.first_seen for t in templates)
    latest = max(t.last_seen for t in templates)
    found: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # lines, templates
    refs: dict[str, list[str]] = defaultdict(list)
    for template in templates:
        errors = template.error_count
        if errors < 1:
            continue  # support is read per service below (`NEW_ERROR_SUPPORT`)
        first = first_error_seen(template)
        if first < start and not _began_in_guard_gap(template, first, earliest, latest, cut):
            continue
        if first > cut.fault_start + LATE_NEW_ERROR_WITHIN:
            continue  # began long after the fault was reported: not what the alert is about
        # Drain masks a name that varies ("no instances available for <*>"): the examples
        # keep it.
        text = " ".join([template.template, *(e.message for e in template.examples)]).lower()
        for service in template.services or []:
            if any(peer in text for peer in known if peer != service.lower()):
                # "no instances available for ts-basic-service": a call that failed on a
                # peer is the peer's trouble as much as this service's, not its own code path.
                continue
            found[service][0] += errors
            found[service][1] += 1
            refs[service].append(template.artifact_id)
    for service, (lines, count) in found.items():
        if lines < NEW_ERROR_SUPPORT:
            continue  # one stray line
        # Distinct new failures say more than one failure repeated.
        z = 3.0 * lines * math.sqrt(count)
        suspect = suspects.setdefault(service, Suspect(service))
        for ref in refs[service]:
            suspect.note("log_new_errors", strength_of(z), ref)


# A service's own errors on both sides of the fault, at least this many lines a side, and at
# least this share of the bundle's own error lines (lines naming another service left out).
PERSISTENT_ERROR_LINES = 2
PERSISTENT_ERROR_SHARE = 0.5
# Its rate after the fault between these multiples of its rate before (scaled by the bundle's
# other lines): below, an earlier failure fading; above, a change the readings of change see.
# On the tuned Nezha TrainTicket cases a ceiling of 3 to 10 gives the same rows (2 loses one).
PERSISTENT_HOLD = 0.5
PERSISTENT_SURGE = 4.0


def _about_peers(template: LogTemplate) -> bool:
    """An error or warning template, as `log_evidence` reads one (a line about a peer)."""
    return template.error_count * 2 >= template.count or any(
        level in ("WARN", "WARNING") for level in template.levels
    )


def persistent_errors(
    templates: Sequence[LogTemplate], cut: Cut, suspects: dict[str, Suspect]
) -> None:
    """A service that logs its own errors before the fault and after it, and logs most of the
    errors there are: a failure already under way when the window opens (a bad release or a
    broken input minutes earlier, an earlier fault at the same service still in force) shows as
    a state, not a change, so the readings of change above cannot see it. A lead, not a proof:
    business errors ("not found", a rejected request) look the same, so it weighs less than
    errors that rose, and it never fires where the baseline is clean.

    Its callers' error and warning lines that name it ("upstream shipping-api responded 500",
    "blank result from basket") are the proof the lead lacks: a business error its handler
    answered is no failure to its callers. Where such lines persist on both sides as well, the
    service's own errors and the lines about it together, as a share of every error line of
    the bundle, read as ``log_errors_named`` (weighed as errors that rose): an error line about
    a peer is the peer's (engine 3.51), and a caller whose own error lines are mostly about one
    callee passes the lines about it on to that callee (its failure is the callee's, seen one
    step further up)."""
    spelled = sorted({service for t in templates for service in t.services or []})
    known = {service.lower() for service in spelled}
    half = timedelta(seconds=30)
    own: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    refs: dict[str, list[str]] = defaultdict(list)
    # Lines about a peer: (peer, writer) → lines before, after.
    about: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    about_refs: dict[str, list[str]] = defaultdict(list)
    volume = [0.0, 0.0]
    for template in templates:
        text = " ".join([template.template, *(e.message for e in template.examples)])
        named = named_peers(text, spelled) if _about_peers(template) else []
        for service in template.services or []:
            for peer in named:
                if peer == service:
                    continue
                for point in template.histogram:
                    about[(peer, service)][0 if point.ts + half < cut.fault_start else 1] += (
                        point.value
                    )
                about_refs[peer].append(template.artifact_id)
        if template.error_count * 2 < template.count:
            # The bundle's other lines measure its volume (a flood of errors would not).
            for point in template.histogram:
                volume[0 if point.ts + half < cut.fault_start else 1] += point.value
            continue
        # Drain masks a name that varies ("no instances available for <*>"): the examples
        # keep it.
        lowered = text.lower()
        for service in template.services or []:
            if any(peer in lowered for peer in known if peer != service.lower()):
                continue  # a call that failed on a peer, not this service's own failure
            for point in template.histogram:
                own[service][0 if point.ts + half < cut.fault_start else 1] += point.value
            refs[service].append(template.artifact_id)
    if volume[0] <= 0 or volume[1] <= 0:
        return
    scale = volume[1] / volume[0]  # sampling changes the volume, not the mix
    total = sum(before + after for before, after in own.values())
    for service, (before, after) in own.items():
        share = (before + after) / total if total else 0.0
        if min(before, after) < PERSISTENT_ERROR_LINES or share < PERSISTENT_ERROR_SHARE:
            continue
        if after < PERSISTENT_HOLD * before * scale:
            continue  # fading: an earlier failure ending, not one in force
        if after > PERSISTENT_SURGE * before * scale:
            continue  # surging: a change, read by the readings of change
        suspect = suspects.setdefault(service, Suspect(service))
        for ref in refs[service]:
            suspect.note("log_errors_persistent", share, ref)
    _named_persistent(own, about, about_refs, scale, suspects)


def _named_persistent(
    own: dict[str, list[float]],
    about: dict[tuple[str, str], list[float]],
    refs: dict[str, list[str]],
    scale: float,
    suspects: dict[str, Suspect],
) -> None:
    """``log_errors_named`` (see `persistent_errors`): lines about a service, passed on along
    the callers whose own error lines are mostly about one callee."""
    written: dict[str, float] = defaultdict(float)  # a writer's error lines, its own and about
    for service, (before, after) in own.items():
        written[service] += before + after
    by_writer: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (peer, writer), (before, after) in about.items():
        written[writer] += before + after
        by_writer[writer][peer] += before + after
    # A writer whose error lines are mostly about one peer: that peer is where its failing is.
    passes: dict[str, str] = {}
    for writer, peers in by_writer.items():
        peer, lines = max(peers.items(), key=lambda item: (item[1], item[0]))
        if lines > PERSISTENT_ERROR_SHARE * written[writer]:
            passes[writer] = peer

    def where(service: str) -> str:
        seen = {service}
        while service in passes and passes[service] not in seen:
            service = passes[service]
            seen.add(service)
        return service

    named: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    # A reading passed on cites the lines that carried it, each caller's about its callee.
    cited: dict[str, list[str]] = defaultdict(list)
    for (peer, _writer), (before, after) in about.items():
        target = where(peer)
        named[target][0] += before
        named[target][1] += after
        cited[target].extend(ref for ref in refs.get(peer, []) if ref not in cited[target])
    total = sum(written.values())
    for service, (named_before, named_after) in named.items():
        if min(named_before, named_after) < PERSISTENT_ERROR_LINES:
            continue
        before = named_before + own.get(service, [0.0, 0.0])[0]
        after = named_after + own.get(service, [0.0, 0.0])[1]
        share = (before + after) / total if total else 0.0
        if share < PERSISTENT_ERROR_SHARE:
            continue
        if not PERSISTENT_HOLD * before * scale <= after <= PERSISTENT_SURGE * before * scale:
            continue  # fading or surging, as for a service's own errors
        suspect = suspects.setdefault(service, Suspect(service))
        for ref in cited[service] or [f"logs:{service}"]:
            suspect.note("log_errors_named", share, ref)
