"""The panel's query helpers that need no database."""

from __future__ import annotations

import pytest

from cdnpanel.queries import _intervals


def test_rows_of_a_finer_table_add_up_in_their_interval():
    # interval, requests, bytes: two 1-minute rows in interval 0, one in interval 2
    assert _intervals(3, "0,1,100,0,2,50,2,5,7") == {0: (3, 150), 2: (5, 7)}


def test_a_month_without_rows_is_empty():
    assert _intervals(0, None) == {}


def test_a_packed_value_cut_short_fails_instead_of_billing_less():
    with pytest.raises(RuntimeError, match="cut short"):
        _intervals(3, "0,1,100,0,2,50,2,5")
