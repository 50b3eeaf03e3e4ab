"""DRF's authtoken stored API tokens in plaintext; django-rest-knox replaced it (hashed,
expiring). Its table, left behind by removing the app, still holds live-looking keys: drop it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop),
    ]
