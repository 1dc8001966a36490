"""Recommended actions fit what the analysis knows: a culprit, or only the kind of fault."""

from __future__ import annotations

from chronosops.analysis.actions import ACTIONS, actions_for
from chronosops.analysis.catalog import HypothesisId


def test_a_cause_with_a_culprit_gets_its_family_steps_for_that_service() -> None:
    actions = actions_for(HypothesisId.DEPLOY_BUG, culprit="pricing", change=None, refs=[])
    assert actions[0].title == "Roll back the most recent deploy of pricing"


def test_a_cause_family_without_a_culprit_first_finds_it_among_the_candidates() -> None:
    candidates = [("pricing", 0.4), ("quotes", 0.2)]
    for family in ACTIONS:
        if family == HypothesisId.UNKNOWN:
            continue
        actions = actions_for(family, culprit=None, change=None, refs=[], candidates=candidates)
        assert actions[0].title == "Find which of pricing, quotes is at fault"
        assert all("the affected service" not in a.title for a in actions)
        assert all(a.hypothesis_id == family for a in actions)
