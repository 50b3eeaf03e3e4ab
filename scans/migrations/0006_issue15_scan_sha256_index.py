from django.db import migrations, models


class Migration(migrations.Migration):
    """Finds an earlier upload of the same image for the same patient (scans.duplicates)."""

    dependencies = [
        ("scans", "0005_issue15_review_superseded"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="scan",
            index=models.Index(fields=["patient", "sha256"], name="scan_patient_sha256"),
        ),
    ]
