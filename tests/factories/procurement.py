import factory

from catalog.models import City
from procurement.models import Agency, AgencyType
from tests.factories.catalog import credit_code


def city(code: str = "350100") -> City:
    """Reference data: 350100 福州市, 350200 厦门市, …"""
    return City.objects.get(code=code)


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"福州市第{n}中学")
    credit_code = factory.Sequence(lambda n: credit_code(n, prefix="123501"))
    type = AgencyType.SCHOOL
    city = factory.LazyFunction(city)
    district = "鼓楼区"
