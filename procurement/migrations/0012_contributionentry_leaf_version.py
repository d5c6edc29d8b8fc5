from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("procurement", "0011_agency_membership"),
    ]

    operations = [
        migrations.AddField(
            model_name="contributionentry",
            name="leaf_version",
            field=models.PositiveSmallIntegerField(db_default=1, default=1),
        ),
    ]
