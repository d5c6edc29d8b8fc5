"""Per-request batch loaders for synchronous GraphQL execution.

graphql-core runs our resolvers one object at a time, so a classic promise-based loader has
nothing to wait for. Instead a loader learns the *siblings* of the object being resolved: when a
connection (or another loader) produces a list of objects of a GraphQL type, every loader
registered for that type is primed with the keys of all of them. The first `load()` then fetches
all pending keys in one query, and the rest are answered from the cache.

    @batches("Product", key=lambda product: product.id)
    class VariantsByProductId(DataLoader[int, list[ProductVariant]]):
        returns = "ProductVariant"
        def batch_load(self, keys): ...

    def resolve_variants(product, info):
        return VariantsByProductId(info.context).load(product.id)
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, ClassVar, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_SIBLING_KEYS: dict[str, list[tuple[type["DataLoader"], Callable[[Any], Any]]]] = defaultdict(list)
_MISSING = object()


def batches(type_name: str, *, key: Callable[[Any], Any]):
    """Register a loader to be primed with `key(obj)` for every listed object of `type_name`."""

    def register(loader_class: type["DataLoader"]) -> type["DataLoader"]:
        _SIBLING_KEYS[type_name].append((loader_class, key))
        return loader_class

    return register


def prime_siblings(context: Any, type_name: str, objects: Iterable[Any]) -> None:
    objects = [obj for obj in objects if obj is not None]
    if not objects:
        return
    for loader_class, key in _SIBLING_KEYS.get(type_name, ()):
        loader_class(context).prime_keys(key(obj) for obj in objects)


class DataLoader(Generic[K, V]):
    """Subclasses implement `batch_load(keys) -> {key: value}`; missing keys get `default()`.
    Set `returns` to the GraphQL type name of the loaded objects to batch their fields too."""

    returns: ClassVar[str | None] = None

    def __new__(cls, context: Any):
        loaders = getattr(context, "dataloaders", None)
        if loaders is None:
            loaders = context.dataloaders = {}
        if cls not in loaders:
            loader = super().__new__(cls)
            loader.context = context
            loader._cache = {}
            loader._pending = set()
            loaders[cls] = loader
        return loaders[cls]

    def batch_load(self, keys: list[K]) -> dict[K, V]:
        raise NotImplementedError

    def default(self) -> Any:
        return None

    def prime_keys(self, keys: Iterable[K]) -> None:
        self._pending.update(key for key in keys if key is not None and key not in self._cache)

    def load(self, key: K) -> V:
        value = self._cache.get(key, _MISSING)
        if value is _MISSING:
            self._pending.add(key)
            self._flush()
            value = self._cache[key]
        return value

    def load_many(self, keys: Iterable[K]) -> list[V]:
        keys = list(keys)
        self.prime_keys(keys)
        return [self.load(key) for key in keys]

    def _flush(self) -> None:
        keys, self._pending = list(self._pending), set()
        loaded = self.batch_load(keys)
        for key in keys:
            self._cache[key] = loaded.get(key, _MISSING)
            if self._cache[key] is _MISSING:
                self._cache[key] = self.default()
        if self.returns:
            prime_siblings(self.context, self.returns, _flatten(loaded.values()))


def _flatten(values: Iterable[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        if isinstance(value, list | tuple):
            flat.extend(value)
        else:
            flat.append(value)
    return flat
