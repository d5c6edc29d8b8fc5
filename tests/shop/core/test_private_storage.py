"""The private storage's settings guard: a private folder inside a public one is an error."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def test_private_media_inside_the_public_media_root_fails_the_system_check(settings):
    settings.PRIVATE_MEDIA_ROOT = settings.MEDIA_ROOT / "private"
    with pytest.raises(SystemCheckError, match="core.E301"):
        call_command("check")


def test_private_media_beside_the_public_media_root_passes(settings):
    call_command("check")


def test_private_files_have_no_url():
    from shop.core.storage import private_storage

    with pytest.raises(ValueError, match="no public URL"):
        private_storage().url("qualifications/2026/x.pdf")
