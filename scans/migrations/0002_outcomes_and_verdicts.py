"""Prediction outcomes (classified, uncertain, refused) and review verdicts beyond agree/correct."""

from django.db import migrations, models


def agrees_to_verdict(apps, schema_editor):
    Review = apps.get_model("scans", "Review")
    Review.objects.filter(agrees=True).update(verdict="agree")
    Review.objects.filter(agrees=False).update(verdict="corrected")


def verdict_to_agrees(apps, schema_editor):
    Review = apps.get_model("scans", "Review")
    Review.objects.filter(verdict="agree").update(agrees=True)
    Review.objects.exclude(verdict="agree").update(agrees=False)


class Migration(migrations.Migration):
    dependencies = [("scans", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="prediction",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("classified", "Classified"),
                    ("uncertain", "Uncertain — needs a radiologist's read"),
                    ("refused", "Refused — not recognised as a brain MRI slice"),
                ],
                db_index=True,
                default="classified",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="prediction",
            name="outcome_reason",
            field=models.CharField(blank=True, help_text="Why refused or uncertain.", max_length=300),
        ),
        migrations.AddField(
            model_name="prediction",
            name="ood_score",
            field=models.FloatField(blank=True, help_text="Out-of-distribution score; higher is stranger.", null=True),
        ),
        migrations.AddField(
            model_name="review",
            name="verdict",
            field=models.CharField(
                choices=[
                    ("agree", "Agree with the model"),
                    ("corrected", "Corrected to another class"),
                    ("not_brain_mri", "Not a brain MRI"),
                    ("non_diagnostic", "Non-diagnostic image"),
                    ("other_pathology", "Other pathology"),
                ],
                default="agree",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(agrees_to_verdict, verdict_to_agrees),
        migrations.RemoveField(model_name="review", name="agrees"),
    ]
