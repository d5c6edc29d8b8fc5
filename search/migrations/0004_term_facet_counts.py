"""Facet counts kept per common query term (PostgreSQL only; search.term_counts).

`search_countedterm` lists the terms: the exact tsquery the database backend sends for a
one-word query (`query`, and as a tsquery `tsq`), and, as of when it was counted, how many of
how many sellable entries matched it and with every word in the name (for choosing an access
path, never for a count). `search_termfacetcount` holds, per term, how many sellable entries
match it in each (category, county, GI expiry, price band) group. Statement triggers on
`search_productsearchentry` add and subtract the rows each INSERT, UPDATE, DELETE or TRUNCATE
changed, in the writing transaction: the counts are never stale. A missing GI expiry is stored
as -infinity (so the four group columns form a plain unique key).
"""

from django.db import migrations

TABLE = "search_productsearchentry"
COLUMNS = "category_id, county_id, gi_until, price_band, document"



def _apply(rows_sql: str) -> str:
    """Add each counted term's matches among `rows_sql` ((category_id, county_id, gi_until,
    price_band, document, sign) of what the statement changed) to its groups."""
    return (
        "INSERT INTO search_termfacetcount AS c "
        "(term_id, category_id, county_id, gi_until, price_band, count) "
        "SELECT t.id, r.category_id, r.county_id, COALESCE(r.gi_until, '-infinity'::date), "
        f"r.price_band, SUM(r.sign) FROM ({rows_sql}) r "
        "JOIN search_countedterm t ON r.document @@ t.tsq "
        "GROUP BY 1, 2, 3, 4, 5 HAVING SUM(r.sign) <> 0 ORDER BY 1, 2, 3, 4, 5 "
        "ON CONFLICT (term_id, category_id, county_id, gi_until, price_band) "
        "DO UPDATE SET count = c.count + EXCLUDED.count"
    )


POSTGRES_FORWARD = [
    """CREATE TABLE search_countedterm (
        id bigserial PRIMARY KEY,
        query text NOT NULL UNIQUE,
        tsq tsquery NOT NULL,
        matches integer NOT NULL DEFAULT 0,
        name_matches integer NOT NULL DEFAULT 0,
        entries integer NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE search_termfacetcount (
        term_id bigint NOT NULL REFERENCES search_countedterm (id) ON DELETE CASCADE,
        category_id bigint NOT NULL,
        county_id bigint NOT NULL,
        gi_until date NOT NULL,
        price_band varchar(16) NOT NULL,
        count integer NOT NULL,
        PRIMARY KEY (term_id, category_id, county_id, gi_until, price_band)
    )""",
    f"""CREATE FUNCTION search_term_counts_inserted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_apply(f"SELECT {COLUMNS}, 1 AS sign FROM new_rows WHERE sellable")};
        RETURN NULL;
    END $$""",
    # rewritten rows that changed nothing a count sees cancel out (EXCEPT ALL) before the join
    f"""CREATE FUNCTION search_term_counts_updated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_apply(
            f"SELECT *, 1 AS sign FROM (SELECT {COLUMNS} FROM new_rows WHERE sellable "
            f"EXCEPT ALL SELECT {COLUMNS} FROM old_rows WHERE sellable) n "
            f"UNION ALL SELECT *, -1 FROM (SELECT {COLUMNS} FROM old_rows WHERE sellable "
            f"EXCEPT ALL SELECT {COLUMNS} FROM new_rows WHERE sellable) o"
        )};
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION search_term_counts_deleted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_apply(f"SELECT {COLUMNS}, -1 AS sign FROM old_rows WHERE sellable")};
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION search_term_counts_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM search_termfacetcount;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER search_term_counts_ins AFTER INSERT ON {TABLE}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION search_term_counts_inserted()""",
    f"""CREATE TRIGGER search_term_counts_upd AFTER UPDATE ON {TABLE}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION search_term_counts_updated()""",
    f"""CREATE TRIGGER search_term_counts_del AFTER DELETE ON {TABLE}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION search_term_counts_deleted()""",
    f"""CREATE TRIGGER search_term_counts_trunc AFTER TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION search_term_counts_truncated()""",
]
POSTGRES_BACKWARD = [
    f"DROP TRIGGER IF EXISTS search_term_counts_ins ON {TABLE}",
    f"DROP TRIGGER IF EXISTS search_term_counts_upd ON {TABLE}",
    f"DROP TRIGGER IF EXISTS search_term_counts_del ON {TABLE}",
    f"DROP TRIGGER IF EXISTS search_term_counts_trunc ON {TABLE}",
    "DROP FUNCTION IF EXISTS search_term_counts_inserted()",
    "DROP FUNCTION IF EXISTS search_term_counts_updated()",
    "DROP FUNCTION IF EXISTS search_term_counts_deleted()",
    "DROP FUNCTION IF EXISTS search_term_counts_truncated()",
    "DROP TABLE IF EXISTS search_termfacetcount",
    "DROP TABLE IF EXISTS search_countedterm",
]


def _run(statements):
    def run(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0003_synonym_rule")]

    operations = [migrations.RunPython(_run(POSTGRES_FORWARD), _run(POSTGRES_BACKWARD))]
