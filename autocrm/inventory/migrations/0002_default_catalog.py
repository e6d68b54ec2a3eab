from django.db import migrations

LOGISTICS_STATUSES = [
    ("ordered", "Заказан у импортера"),
    ("in_production", "В производстве"),
    ("in_transit", "В пути"),
    ("at_warehouse", "На складе"),
    ("in_showroom", "Салон"),
    ("reserved", "Зарезервирован"),
    ("sold", "Продан"),
    ("delivered", "Выдан клиенту"),
]
BODY_TYPES = [
    ("suv", "Внедорожник"),
    ("crossover", "Кроссовер"),
    ("sedan", "Седан"),
    ("liftback", "Лифтбек"),
    ("hatchback", "Хэтчбек"),
    ("wagon", "Универсал"),
    ("minivan", "Минивэн"),
    ("coupe", "Купе"),
    ("pickup", "Пикап"),
    ("van", "Фургон"),
]
DRIVE_TYPES = [("fwd", "Передний"), ("rwd", "Задний"), ("awd", "Полный")]
ENGINE_TYPES = [
    ("petrol", "Бензин"),
    ("diesel", "Дизель"),
    ("hybrid", "Гибрид"),
    ("phev", "Подключаемый гибрид"),
    ("electric", "Электро"),
    ("lpg", "Газ/бензин"),
]
TRANSMISSIONS = [
    ("manual", "Механика"),
    ("automatic", "Автомат"),
    ("cvt", "Вариатор"),
    ("robot", "Робот"),
]

CATALOGS = {
    "LogisticsStatus": LOGISTICS_STATUSES,
    "BodyType": BODY_TYPES,
    "DriveType": DRIVE_TYPES,
    "EngineType": ENGINE_TYPES,
    "Transmission": TRANSMISSIONS,
}


def create(apps, schema_editor):
    for model_name, entries in CATALOGS.items():
        model = apps.get_model("inventory", model_name)
        for order, (code, name) in enumerate(entries, start=1):
            model.objects.get_or_create(code=code, defaults={"name": name, "order": order * 10})


def delete(apps, schema_editor):
    for model_name, entries in CATALOGS.items():
        model = apps.get_model("inventory", model_name)
        model.objects.filter(code__in=[code for code, _ in entries], vehicles__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [migrations.RunPython(create, delete)]
