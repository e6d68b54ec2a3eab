from django.db import migrations

ROLE_CODES = [
    "operator",
    "hostess",
    "sales_manager",
    "service",
    "logistician",
    "appraiser",
    "lawyer",
    "head",
    "management",
    "administrator",
]


def create_roles(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for code in ROLE_CODES:
        Role.objects.get_or_create(code=code)


def delete_roles(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    Role.objects.filter(code__in=ROLE_CODES, users__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_roles, delete_roles)]
