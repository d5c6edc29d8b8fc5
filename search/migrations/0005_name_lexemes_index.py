"""A GIN index on the name's lexemes of the document (PostgreSQL only): those weighted A and B,
and the Han ones weighted C (the name's characters and bigrams; the C-weighted ASCII lexemes are
the tags' pinyin). A query's in-name form (`PostgresMatcher.tsquery(..., in_name=True)`: Han
words A, B or C; ASCII words A or B) matches a document exactly when its unweighted form
matches `search_name_lexemes(document)`, and unweighted the GIN index answers it without
rechecking rows and its statistics know how rare a word is in names: the database backend's
counted path (search.backends.database `_candidates`) takes the first matches with every word
in the name through it.
"""

from django.db import migrations

HAN_ONLY = "^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+$"

FORWARD = [
    "CREATE FUNCTION search_name_lexemes(document tsvector) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ "
    "SELECT ts_filter(document, '{a,b}') || ts_filter(ts_delete(document, ARRAY("
    f"SELECT lexeme FROM unnest(document) WHERE lexeme !~ '{HAN_ONLY}')), '{{c}}') $$",
    "CREATE INDEX search_entry_name_lexemes_gin ON search_productsearchentry "
    "USING gin (search_name_lexemes(document))",
]
BACKWARD = [
    "DROP INDEX IF EXISTS search_entry_name_lexemes_gin",
    "DROP FUNCTION IF EXISTS search_name_lexemes(tsvector)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0004_term_facet_counts")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
