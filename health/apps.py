from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health and worker heartbeats"

    def ready(self) -> None:
        # Connects the worker signals that start and stop the heartbeat; in the web process
        # they never fire.
        from health import heartbeat  # noqa: F401
