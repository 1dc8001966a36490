"""Prometheus's protobuf exposition format, written by hand: the only one that carries native
histograms to a Prometheus 2.4x (``--enable-feature=native-histograms``).

The body is a sequence of ``io.prometheus.client.MetricFamily`` messages (client_model's
``metrics.proto``), each preceded by its length as a varint (``encoding=delimited``). Only what
the tests send is written: untyped samples (any series, its full name kept, so a classic
histogram's ``_bucket`` series and a counter's ``_total`` travel as they are) and native
histograms with positive buckets, each with its own timestamp, so a whole history can be
handed over in one scrape. ``prometheus_client`` writes native histograms only as OpenMetrics
text, which Prometheus 2.42 does not read, and no protobuf library is installed here.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)
UNTYPED = 3
HISTOGRAM = 4
# client_golang's default: observations at or below 2^-128 count as zero.
ZERO_THRESHOLD = 2.0**-128


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _uint(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _sint(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint((value << 1) ^ (value >> 63))  # zigzag


def _double(number: int, value: float) -> bytes:
    return _key(number, 1) + struct.pack("<d", value)


def _bytes(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _text(number: int, value: str) -> bytes:
    return _bytes(number, value.encode())


@dataclass(frozen=True)
class NativeHistogram:
    """One sample of a cumulative native histogram: observations per bucket index (bucket
    ``i`` of schema ``s`` holds values in ``(2^((i-1)/2^s), 2^(i/2^s)]``)."""

    buckets: dict[int, int]
    total: float
    schema: int = 0

    @property
    def count(self) -> int:
        return sum(self.buckets.values())

    def encode(self) -> bytes:
        # Histogram: sample_count 1, sample_sum 2, schema 5, zero_threshold 6, zero_count 7,
        # positive_span 12 (offset 1, length 2), positive_delta 13.
        body = _uint(1, self.count) + _double(2, self.total) + _sint(5, self.schema)
        body += _double(6, ZERO_THRESHOLD) + _uint(7, 0)
        indexes = sorted(index for index, n in self.buckets.items() if n)
        spans: list[tuple[int, int]] = []  # (offset from the previous span's end, length)
        end = 0
        for position, index in enumerate(indexes):
            if position and index == indexes[position - 1] + 1:
                spans[-1] = (spans[-1][0], spans[-1][1] + 1)
            else:
                spans.append((index - end if position else index, 1))
            end = index + 1
        for offset, length in spans:
            body += _bytes(12, _sint(1, offset) + _uint(2, length))
        previous = 0
        for index in indexes:
            body += _sint(13, self.buckets[index] - previous)
            previous = self.buckets[index]
        return body


@dataclass
class Family:
    name: str
    kind: int
    metrics: list[bytes] = field(default_factory=list)

    def add(self, labels: dict[str, str], value: float | NativeHistogram, ms: int) -> None:
        # Metric: label 1 (name 1, value 2), untyped 5 (value 1), histogram 7, timestamp_ms 6.
        body = b"".join(_bytes(1, _text(1, k) + _text(2, v)) for k, v in labels.items())
        if isinstance(value, NativeHistogram):
            body += _bytes(7, value.encode())
        else:
            body += _bytes(5, _double(1, value))
        self.metrics.append(body + _key(6, 0) + _varint(ms))

    def encode(self) -> bytes:
        message = _text(1, self.name) + _uint(3, self.kind)
        message += b"".join(_bytes(4, metric) for metric in self.metrics)
        return _varint(len(message)) + message


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+) (\d+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


def untyped_from_openmetrics(text: str) -> list[Family]:
    """Every sample of an OpenMetrics text (one with a timestamp on each line, no escapes in
    label values) as an untyped series of the same name."""
    families: dict[str, Family] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        found = _SAMPLE.match(line)
        if found is None:
            raise ValueError(f"not a sample line: {line!r}")
        name, labels, value, seconds = found.groups()
        family = families.setdefault(name, Family(name, UNTYPED))
        family.add(dict(_LABEL.findall(labels or "")), float(value), int(seconds) * 1000)
    return list(families.values())


def exposition(families: Iterable[Family]) -> bytes:
    return b"".join(family.encode() for family in families)
