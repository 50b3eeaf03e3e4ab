"""Inputs at the edges that once answered 500: each must be a page or a clear error."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


@pytest.mark.parametrize("query", ["date_to=9999-12-31", "date_from=9999-12-31", "date_to=0001-01-01", "date_to=99999-1-1"])
def test_a_date_filter_at_the_ends_of_time_is_not_a_500(logged_in, query):
    assert logged_in.get(f"/scans/?{query}").status_code == 200
