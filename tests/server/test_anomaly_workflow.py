"""The anomaly workflow's transition table, without a database."""

from __future__ import annotations

import pytest

from server.anomaly_workflow import STATUSES, TRANSITIONS, TransitionRefused, check_transition

ALLOWED = {
    ("open", "confirmed"),
    ("open", "dismissed"),
    ("confirmed", "closed"),
    ("dismissed", "closed"),
    ("dismissed", "open"),
}


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_every_pair_of_statuses(current: str, new: str) -> None:
    if (current, new) in ALLOWED:
        check_transition(current, new)
    else:
        with pytest.raises(TransitionRefused) as err:
            check_transition(current, new)
        assert str(err.value) == f"an anomaly that is {current} cannot become {new}"


def test_the_table_names_every_status_and_only_known_ones() -> None:
    assert set(TRANSITIONS) == set(STATUSES)
    assert all(targets <= set(STATUSES) for targets in TRANSITIONS.values())


def test_closed_is_final_and_nothing_stays_where_it_is() -> None:
    assert TRANSITIONS["closed"] == frozenset()
    assert all(status not in TRANSITIONS[status] for status in STATUSES)


def test_an_unknown_current_status_is_refused() -> None:
    with pytest.raises(TransitionRefused):
        check_transition("lost", "open")


def test_the_table_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS["closed"] = frozenset({"open"})  # type: ignore[index]
