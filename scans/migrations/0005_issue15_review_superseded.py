from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0004_issue12_exam"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="review",
            options={"default_manager_name": "objects", "ordering": ["-created_at"]},
        ),
        migrations.AddField(
            model_name="review",
            name="superseded_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
