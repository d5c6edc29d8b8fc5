"""The `errors: [Error!]!` payload shape shared by every mutation (docs/design.md §4)."""

from enum import Enum

import graphene


def error_type(name: str, codes: type[Enum], description: str) -> type[graphene.ObjectType]:
    """Build `<Domain>Error { field, code: <Domain>ErrorCode!, message }` for one domain."""
    code_enum = graphene.Enum.from_enum(codes, name=f"{name}Code")

    def resolve_code(error, _info):
        return codes(error.code)

    return type(
        name,
        (graphene.ObjectType,),
        {
            "__doc__": description,
            "field": graphene.String(
                description="The input field at fault, in camelCase; null when the error "
                "concerns the whole input."
            ),
            "code": graphene.Field(code_enum, required=True, resolver=resolve_code),
            "message": graphene.String(required=True, description="A human-readable message."),
        },
    )


def errors_field(error_object: type[graphene.ObjectType]) -> graphene.List:
    return graphene.List(
        graphene.NonNull(error_object),
        required=True,
        description="What went wrong; empty on success, in which case the mutation took effect.",
    )
