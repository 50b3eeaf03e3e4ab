"""No table of plaintext API tokens survives the move to hashed tokens (django-rest-knox)."""

from importlib import import_module

from django.db import connection

DROP = import_module("accounts.migrations.0002_issue15_drop_plaintext_tokens").Migration.operations[0]


def test_the_migration_drops_a_leftover_plaintext_token_table(db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('0123456789abcdef0123456789abcdef01234567', 1)")
        cursor.execute(DROP.sql)
    assert "authtoken_token" not in connection.introspection.table_names()


def test_it_is_harmless_where_there_never_was_one(db):
    with connection.cursor() as cursor:
        cursor.execute(DROP.sql)
    assert "authtoken_token" not in connection.introspection.table_names()
