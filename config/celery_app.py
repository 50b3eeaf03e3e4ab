"""The Celery application: configured from Django settings under the CELERY_ namespace.

https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
"""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("mri_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """kombu's filesystem transport expects its folders to exist (it creates only one)."""
    if not app.conf.broker_url.startswith("filesystem://"):
        return
    options = app.conf.broker_transport_options
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        Path(options[key]).mkdir(parents=True, exist_ok=True)


ensure_broker_folders()
