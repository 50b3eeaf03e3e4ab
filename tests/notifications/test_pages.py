"""The bell in the header, the notifications page, marking read, and the email switch."""

import pytest

from notifications.models import EmailPreference, Notification
from tests.conftest import session_client

pytestmark = pytest.mark.django_db


def notify(user, message="Your upload of 2 scans is finished: 2 done.", link="/scans/"):
    return Notification.objects.create(recipient=user, message=message, link=link)


def test_the_header_bell_shows_the_unread_count(owner):
    notify(owner)
    notify(owner)
    read = notify(owner)
    read.read_at = read.created_at
    read.save()

    page = session_client(owner).get("/").content.decode()

    assert 'aria-label="Notifications: 2 unread"' in page
    assert '<span class="badge">2</span>' in page


def test_the_list_shows_only_the_users_own_notifications(owner, outsider):
    notify(owner, message="Yours: 1 scan finished.")
    notify(outsider, message="Theirs: 9 scans finished.")

    page = session_client(owner).get("/notifications/").content.decode()

    assert "Yours: 1 scan finished." in page
    assert "Theirs" not in page


def test_opening_a_notification_marks_it_read_and_follows_its_link(owner):
    notification = notify(owner, link="/patients/7/")

    response = session_client(owner).post(f"/notifications/{notification.pk}/read/", {"open": "1"})

    assert response.status_code == 302 and response["Location"] == "/patients/7/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_another_users_notification_is_a_404(owner, outsider):
    notification = notify(outsider)

    response = session_client(owner).post(f"/notifications/{notification.pk}/read/")

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_read_clears_the_bell(owner):
    notify(owner)
    client = session_client(owner)

    client.post("/notifications/read-all/")

    assert "Notifications: 0 unread" in client.get("/").content.decode()


def test_a_user_turns_email_off_and_on(owner):
    client = session_client(owner)

    client.post("/notifications/email/", {})
    assert EmailPreference.objects.get(user=owner).email_when_batch_done is False

    client.post("/notifications/email/", {"email_when_batch_done": "on"})
    assert EmailPreference.objects.get(user=owner).email_when_batch_done is True


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/notifications/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
