"""A text-search vector column: `tsvector` on PostgreSQL, plain text elsewhere (unused there)."""

from django.db import models


class TSVectorField(models.TextField):
    """Holds a `tsvector` literal built in Python (`search.entries.tsvector_literal`).

    The literal is cast, not parsed: `'枸杞':1A '中宁':2A`::tsvector keeps exactly the lexemes
    jieba/pypinyin produced, so the query side (also built in Python) sees the same tokens. On
    other databases the column is ordinary text and stays empty.
    """

    description = "PostgreSQL tsvector (text on other databases)"

    def db_type(self, connection):
        return "tsvector" if connection.vendor == "postgresql" else "text"

    def get_placeholder(self, value, compiler, connection):
        return "%s::tsvector" if connection.vendor == "postgresql" else "%s"
