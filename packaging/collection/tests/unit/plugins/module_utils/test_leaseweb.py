# Copyright: (c) 2026, cdn-infra team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/leaseweb.py's waiting loop (ansible-test units)."""

from __future__ import annotations

from ansible_collections.cdn.infra.plugins.module_utils.leaseweb import wait_for


def test_wait_for_returns_the_first_value_that_is_done():
    calls = []

    def probe():
        calls.append(len(calls) + 1)
        return calls[-1]

    assert wait_for(probe, lambda value: value == 3, timeout=10, interval=0) == (3, True)
    assert calls == [1, 2, 3]


def test_wait_for_gives_up_after_the_timeout_with_the_last_value():
    values = iter(range(100))
    value, done = wait_for(lambda: next(values), lambda value: False, timeout=0.05, interval=0.01)
    assert done is False
    assert 0 <= value < 100
