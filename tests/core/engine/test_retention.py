"""Leave-on-server rules on an injected time: what each selects, and what none ever does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.engine.retention import DAY, Retention, Rule, StoredCopy, to_delete

NOW = 1_800_000_000.0

STORED = {
    "old": StoredCopy(NOW - 40 * DAY, present=True),
    "edge": StoredCopy(NOW - 30 * DAY, present=True),
    "young": StoredCopy(NOW - 29.9 * DAY, present=True),
    "gone": StoredCopy(NOW - 1 * DAY, present=False),
    "old-gone": StoredCopy(NOW - 90 * DAY, present=False),
    "not-on-server": StoredCopy(NOW - 90 * DAY, present=False),
}
SERVER = ["old", "edge", "young", "gone", "old-gone", "unfetched", "partial"]


@pytest.mark.parametrize(
    ("retention", "expected"),
    [
        (Retention(), set()),
        (Retention(Rule.AFTER_DAYS, 30), {"old", "edge", "old-gone"}),
        (Retention(Rule.AFTER_DAYS, 0), {"old", "edge", "young", "gone", "old-gone"}),
        (Retention(Rule.WHEN_STORED), {"old", "edge", "young", "gone", "old-gone"}),
        (Retention(Rule.WHEN_LOCAL_GONE), {"gone", "old-gone"}),
    ],
)
def test_each_rule_selects_only_stored_messages_the_server_lists(retention, expected):
    assert to_delete(retention, SERVER, STORED, NOW) == expected


def test_after_days_moves_with_the_clock():
    rule = Retention(Rule.AFTER_DAYS, 30)
    assert "young" not in to_delete(rule, SERVER, STORED, NOW)
    assert "young" in to_delete(rule, SERVER, STORED, NOW + 0.1 * DAY)


@given(
    rule=st.sampled_from(list(Rule)),
    days=st.integers(0, 400),
    server=st.sets(st.text("abcdef", min_size=1, max_size=3), max_size=20),
    stored=st.dictionaries(
        st.text("abcdef", min_size=1, max_size=3),
        st.builds(StoredCopy, st.floats(0, NOW), st.booleans()),
        max_size=20,
    ),
    now=st.floats(0, 2 * NOW),
)
def test_no_rule_ever_selects_an_unstored_or_unlisted_message(rule, days, server, stored, now):
    retention = Retention(rule, days if rule is Rule.AFTER_DAYS else None)
    chosen = to_delete(retention, server, stored, now)
    assert chosen <= server & stored.keys()


@pytest.mark.parametrize(
    ("rule", "days"),
    [(Rule.AFTER_DAYS, None), (Rule.AFTER_DAYS, -1), (Rule.AFTER_DAYS, True),
     (Rule.KEEP, 3), (Rule.WHEN_STORED, 0)],
)
def test_days_only_with_after_days(rule, days):
    with pytest.raises(ValueError, match="days"):
        Retention(rule, days)


def test_descriptions():
    shown = Retention(Rule.AFTER_DAYS, 14).describe()
    assert shown == "delete from the server 14 days after storing"
    assert Retention().describe() == "keep on the server"


# -- the account's settings ------------------------------------------------------------------


def _account(**changes):
    from core.accounts import Account

    return Account(host="h", port=995, security="tls", user="u", maildir="/m", **changes)


def test_an_account_names_its_rule_and_round_trips_through_the_file():
    from core.accounts import Account
    from core.engine.retention import retention_of

    account = _account(leave_on_server="after-days", delete_after_days=30, check_every=300,
                       auto_download=True, max_size=5 << 20)
    again = Account.from_dict(account.to_dict())
    assert again == account
    assert retention_of(again) == Retention(Rule.AFTER_DAYS, 30)
    assert retention_of(_account()) == Retention()
    assert _account().check_every == 600  # ten minutes unless chosen


def test_delete_after_fetch_and_once_stored_are_one_setting():
    old_file = _account(delete_after_fetch=True)  # written before the rules existed
    assert old_file.leave_on_server == "when-stored"
    assert _account(leave_on_server="when-stored").delete_after_fetch is True
    assert _account(leave_on_server="when-local-gone").delete_after_fetch is False


@pytest.mark.parametrize(("field", "value"), [
    ("leave_on_server", "sometimes"), ("check_every", 0), ("check_every", -5.0),
    ("delete_after_days", -1), ("max_size", 0), ("max_size", True)])
def test_bad_unattended_settings_are_refused(field, value):
    with pytest.raises(ValueError):
        _account(**{field: value})
