from django.db import migrations


def load(apps, schema_editor):
    from catalog.reference_data import CATEGORIES, FUJIAN_CITIES, NINGXIA_COUNTIES

    County = apps.get_model("catalog", "County")
    City = apps.get_model("catalog", "City")
    Category = apps.get_model("catalog", "Category")
    for code, name, prefecture, poverty_exited in NINGXIA_COUNTIES:
        County.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "prefecture": prefecture,
                "province": "宁夏回族自治区",
                "is_poverty_exited": poverty_exited,
            },
        )
    for code, name in FUJIAN_CITIES:
        City.objects.update_or_create(code=code, defaults={"name": name, "province": "福建省"})
    for order, (name, slug, english) in enumerate(CATEGORIES):
        Category.objects.update_or_create(
            slug=slug, defaults={"name": name, "english_name": english, "sort_order": order}
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
