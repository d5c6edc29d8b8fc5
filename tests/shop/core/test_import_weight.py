"""What an app process loads before its first request: the libraries only some requests need
stay out (issue 12, worker memory). With gunicorn.conf.py the master loads all this before it
forks, so each worker's RSS starts at the master's: a heavy module imported here would be paid
by every worker, measured in bench/RESULTS-read-path.md."""

import json
import subprocess
import sys

from shop.core.exports import ILLEGAL_CHARACTERS_RE, column_letter

# pypinyin's and jieba's stock tables (the compact ones in shop.core.lexicon replace them), the
# XLSX reader/writer and numpy it pulls in (basket uploads), the PDF parser (document uploads),
# setuptools' pkg_resources (jieba's import, needless here), Pillow (image uploads)
LOADED_ONLY_WHEN_USED = {"pypinyin", "openpyxl", "numpy", "pypdf", "pkg_resources", "PIL"}

WARM_UP = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
import django
django.setup()
from django.urls import get_resolver
from search.text import segment, warm_up
warm_up()
get_resolver().url_patterns
segment("宁夏中宁枸杞")
from catalog.services.products import slug_for
assert slug_for("中宁枸杞") == "zhong-ning-gou-qi"
print(json.dumps(sorted(sys.modules)))
"""


def test_warm_up_and_urlconf_leave_the_heavy_libraries_out():
    # a process of its own: this test process has imported them all already
    result = subprocess.run(
        [sys.executable, "-c", WARM_UP], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}
    assert "jieba" in loaded  # the warm-up did run
    assert not loaded & LOADED_ONLY_WHEN_USED


def test_own_column_letters_and_illegal_characters_are_openpyxl_s():
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as openpyxl_re
    from openpyxl.utils import get_column_letter

    numbers = [*range(1, 800), 18278]
    assert [column_letter(n) for n in numbers] == [get_column_letter(n) for n in numbers]
    assert ILLEGAL_CHARACTERS_RE.pattern == openpyxl_re.pattern
