# One image for every role of docker-compose.yml: web (gunicorn + whitenoise), the `ml` and
# `default` Celery workers, beat and the one-shot migrate. The role is the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app
# WeasyPrint (the PDF reports) draws text with Pango and HarfBuzz; DejaVu is the reports' font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected into the image (whitenoise serves them with hashed names).
# Production settings insist on their secrets, so the build passes throwaway ones.
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=build DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    CELERY_BROKER_URL=memory:// python manage.py collectstatic --noinput \
    && useradd --create-home --uid 10001 portal
USER portal

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
