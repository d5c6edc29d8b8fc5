"""System checks for settings that no single setting can validate on its own."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def private_media_is_not_public(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Private documents must not sit where public files are served from."""
    private = Path(settings.PRIVATE_MEDIA_ROOT).resolve()
    errors = []
    for name in ("MEDIA_ROOT", "STATIC_ROOT"):
        public = getattr(settings, name, None)
        if public and private.is_relative_to(Path(public).resolve()):
            errors.append(
                Error(
                    f"PRIVATE_MEDIA_ROOT ({private}) is inside {name} ({public}), which is "
                    "served publicly; private documents would be readable by anyone.",
                    id="core.E301",
                )
            )
    return errors
