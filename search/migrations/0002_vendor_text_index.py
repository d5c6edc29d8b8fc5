"""The full-text index of `ProductSearchEntry`, which depends on the database:

- PostgreSQL: a GIN index on the `document` tsvector column;
- SQLite: an FTS5 table over the text columns (external content, rowid = product id), kept in
  step by triggers. Skipped when SQLite was built without FTS5; the database backend then
  falls back to LIKE queries (search.backends.database.LikeMatcher).
"""

from django.db import migrations

TABLE = "search_productsearchentry"
FTS = f"{TABLE}_fts"
COLUMNS = ("name_terms", "pinyin", "initials", "name_chars", "body_terms", "autocomplete")
COLS = ", ".join(COLUMNS)
NEW = ", ".join(f"new.{c}" for c in COLUMNS)
OLD = ", ".join(f"old.{c}" for c in COLUMNS)

POSTGRES_FORWARD = [f"CREATE INDEX search_entry_document_gin ON {TABLE} USING gin (document)"]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS search_entry_document_gin"]

SQLITE_FORWARD = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5({COLS}, content='{TABLE}', "
    "content_rowid='product_id', tokenize='unicode61')",
    f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON {TABLE} BEGIN "
    f"INSERT INTO {FTS}(rowid, {COLS}) VALUES (new.product_id, {NEW}); END",
    f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON {TABLE} BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, {COLS}) VALUES ('delete', old.product_id, {OLD}); END",
    f"CREATE TRIGGER {FTS}_au AFTER UPDATE ON {TABLE} BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, {COLS}) VALUES ('delete', old.product_id, {OLD}); "
    f"INSERT INTO {FTS}(rowid, {COLS}) VALUES (new.product_id, {NEW}); END",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {FTS}_ai",
    f"DROP TRIGGER IF EXISTS {FTS}_ad",
    f"DROP TRIGGER IF EXISTS {FTS}_au",
    f"DROP TABLE IF EXISTS {FTS}",
]


def _sqlite_has_fts5(cursor) -> bool:
    cursor.execute("PRAGMA compile_options")
    return any("ENABLE_FTS5" in row[0] for row in cursor.fetchall())


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        connection = schema_editor.connection
        statements = statements_by_vendor.get(connection.vendor, [])
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite" and not _sqlite_has_fts5(cursor):
                return
            for statement in statements:
                cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
