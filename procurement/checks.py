"""Deploy checks (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured


@register(Tags.security, deploy=True)
def ledger_signing_key(app_configs, **kwargs) -> list[Error]:
    """Unsigned checkpoints would leave auditors nothing to hold the operator to."""
    if settings.DEBUG:
        return []
    from procurement.transparency import signing

    try:
        signing.signing_key()
    except (ImproperlyConfigured, ValueError, OSError) as error:
        return [Error(str(error), hint="See docs/ledger.md.", id="procurement.E001")]
    return []
