"""Trace and span ids in one spelling: hex as OpenTelemetry writes them, decimal turned to hex."""

from __future__ import annotations

import pytest

from chronosops.core.trace_context import hex_id, hex_of_decimal


def test_a_hex_id_is_trimmed_and_lower_cased() -> None:
    assert hex_id(" 685DBD6B727ADC63 ") == "685dbd6b727adc63"
    assert hex_id("") is None
    assert hex_id("   ") is None
    assert hex_id(None) is None
    assert hex_id(7520375221958401123) is None  # a number is no hex text


def test_a_decimal_span_id_becomes_the_16_hex_digits_its_span_is_named_by() -> None:
    # Cloud Trace v1 and Datadog write the 64-bit id in decimal; OpenTelemetry in hex.
    assert hex_of_decimal("7520375221958401123") == "685dbd6b727adc63"
    assert hex_of_decimal(7520375221958401123) == "685dbd6b727adc63"
    assert hex_of_decimal("74") == "000000000000004a"
    assert hex_of_decimal(str(1 << 64)) == "00000000000000010000000000000000"


@pytest.mark.parametrize(
    "value", ["685dbd6b727adc63", "-1", "1.5", "", "١٢٣", True, None, str(1 << 128)]
)
def test_what_is_not_a_decimal_id_gives_none(value: object) -> None:
    assert hex_of_decimal(value) is None
