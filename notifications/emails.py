"""The one email a finished upload batch sends, through Django's email framework.

Counts and a link only: no patient name, record number or file name ever goes into email,
which leaves our systems and lands in mailboxes we do not control."""

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail

if TYPE_CHECKING:
    from notifications.batches import BatchCounts
    from notifications.models import Notification

logger = logging.getLogger(__name__)


def batch_email_send(*, notification: "Notification", counts: "BatchCounts") -> None:
    """Sends the email; a mail server that is down costs the email, never the notification."""
    scans = "1 scan" if counts.total == 1 else f"{counts.total} scans"
    subject = f"Your upload of {scans} is finished"
    link = settings.PORTAL_BASE_URL.rstrip("/") + notification.link
    body = (
        f"{notification.message}\n\n"
        f"Open the results: {link}\n\n"
        "Research software, not a medical device: every result must be checked by a qualified radiologist.\n"
        "You can turn these emails off on the notifications page of the portal.\n"
    )
    try:
        send_mail(subject, body, None, [notification.recipient.email])
    except Exception:
        # An SMTP outage must not fail the worker's task; the in-app notification is there.
        logger.exception("the email of notification %s could not be sent", notification.pk)
