from django.db import migrations

ROLES = ("dock", "inspector", "picker", "dispatcher", "manager")

# The ledger is append-only: the database refuses to change or remove a move, whoever asks.
APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION warehouse_stockmove_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stock moves are append-only; post a correcting move instead'
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER warehouse_stockmove_append_only
    BEFORE UPDATE OR DELETE ON warehouse_stockmove
    FOR EACH ROW EXECUTE FUNCTION warehouse_stockmove_append_only();
"""
DROP_APPEND_ONLY_SQL = """
DROP TRIGGER IF EXISTS warehouse_stockmove_append_only ON warehouse_stockmove;
DROP FUNCTION IF EXISTS warehouse_stockmove_append_only();
"""


def create_roles(apps, schema_editor):
    group = apps.get_model("auth", "Group")
    for name in ROLES:
        group.objects.get_or_create(name=name)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


def add_append_only_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


def drop_append_only_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("warehouse", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_roles, remove_roles),
        migrations.RunPython(add_append_only_trigger, drop_append_only_trigger),
    ]
