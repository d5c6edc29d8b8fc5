import factory

from shop.accounts.models import Role, User

PASSWORD = "Correct-Horse-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.cn")
    role = Role.CONSUMER
    is_active = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    # The organisation a role acts for is a membership row of the app owning it.
    @factory.post_generation
    def supplier(obj, create, extracted, **kwargs):
        if extracted is not None:
            from catalog.membership import supplier_member_add

            supplier_member_add(obj, extracted)

    @factory.post_generation
    def county(obj, create, extracted, **kwargs):
        if extracted is not None:
            from catalog.membership import county_member_add

            county_member_add(obj, extracted)

    @factory.post_generation
    def agency(obj, create, extracted, **kwargs):
        if extracted is not None:
            from procurement.membership import agency_member_add

            agency_member_add(obj, extracted)
