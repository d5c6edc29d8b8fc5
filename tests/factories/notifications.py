import factory

from shop.notifications.events import SUBSCRIBABLE
from shop.notifications.models import WebhookEndpoint


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    url = "https://hooks.example.cn/shanhai"
    secret = factory.Sequence(lambda n: f"whsec_test_secret_{n:04d}")
    event_types = factory.LazyFunction(lambda: [str(t) for t in SUBSCRIBABLE])
    is_active = True
