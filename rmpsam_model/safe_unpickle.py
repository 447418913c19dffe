"""Read torch-saved files without ever letting the pickle inside run code.

`torch.save` writes a zip archive: `data.pkl`, a pickle of the saved object in which every tensor
storage is a persistent id, beside one record per storage (`data/<key>`). Unpickling calls
whatever importable function the pickle names, `os.system` as readily as
`torch._utils._rebuild_tensor_v2`, so `torch.load(weights_only=False)` must never see a downloaded
file. `torch.load(weights_only=True)` is safe but refuses the released RMP-SAM checkpoint
outright, because its `meta` and `message_hub` hold MMEngine objects (`HistoryBuffer`, numpy
scalars) that are not on torch's allow-list.

`RestrictedUnpickler` takes the middle road. Its `find_class` hands out only
`collections.OrderedDict`, torch's tensor-rebuild functions (behind argument checks) and
storage-type markers; every other global becomes an `InertObject` subclass that records the
arguments it is called with and does nothing else. The metadata therefore unpickles into
harmless data, and a hostile file's payload never reaches the function it names. Tensor bytes
come from torch's own zip reader (`torch._C.PyTorchFileReader`), which also checks that each
storage record has the size the pickle claims.

What comes back can still contain inert objects anywhere; the callers (`checkpoint.py`) refuse
any that sits where a tensor belongs. Tensors always land on the CPU.
"""

from __future__ import annotations

import collections
import io
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
"""First object of a pre-1.6 `torch.save` file (a sequence of pickles, not a zip archive)."""


class InertObject:
    """Stands in for an object whose class or function the pickle named but this loader never
    imports: calling it, building it or filling it only records what the pickle asked for.

    `RestrictedUnpickler` creates one subclass per named global (pickle's NEWOBJ opcode needs a
    real type), so `type(obj).pickled_global` says what the file wanted, e.g. `posix.system`.
    """

    pickled_global = "unknown"

    def __new__(cls, *args: Any, **kwargs: Any) -> InertObject:
        obj = super().__new__(cls)
        obj.call_args = args
        obj.call_kwargs = kwargs
        obj.state = None
        obj.items = []
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Arguments were already recorded by `__new__`; nothing else may happen here."""

    def __call__(self, *args: Any, **kwargs: Any) -> InertObject:
        """A pickle may call the result of a call (`getattr(os, "system")("...")`): stay inert."""
        return type(self)(*args, **kwargs)

    def __setstate__(self, state: Any) -> None:
        self.state = state

    # Pickle fills dict and list subclasses of other libraries through these (SETITEMS, APPENDS).
    def __setitem__(self, key: Any, value: Any) -> None:
        self.items.append((key, value))

    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: Any) -> None:
        self.items.extend(items)

    def __repr__(self) -> str:
        return f"<inert {type(self).pickled_global}>"


class UnsupportedPickleContent(Exception):
    """A well-formed pickle that uses a torch feature this loader deliberately does not support."""


@dataclass(frozen=True)
class _StorageDtype:
    """What `find_class` returns for `torch.FloatStorage` and friends: only the element type, which
    `persistent_load` needs; unlike the real storage classes it cannot be called."""

    dtype: torch.dtype


def _storage_dtype(name: str) -> _StorageDtype | None:
    if name == "UntypedStorage":
        return _StorageDtype(torch.uint8)
    try:
        return _StorageDtype(torch.serialization.StorageType(name).dtype)
    except KeyError:
        return None


def _is_int_tuple(value: Any) -> bool:
    return isinstance(value, tuple) and all(type(item) is int for item in value)


def _rebuild_tensor(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> torch.Tensor:
    """`torch._utils._rebuild_tensor_v2` with its arguments checked first.

    `requires_grad` and `backward_hooks` are dropped on purpose: weights are loaded for inference,
    and hooks would be callables taken from the file.
    """
    if not isinstance(storage, torch.storage.TypedStorage):
        raise pickle.UnpicklingError(f"tensor rebuilt from {storage!r} instead of a stored tensor")
    if type(storage_offset) is not int or not _is_int_tuple(size) or not _is_int_tuple(stride):
        raise pickle.UnpicklingError("tensor offset, size or stride is not made of integers")
    if metadata:
        raise UnsupportedPickleContent("a tensor carries conjugate/negative-view metadata, which weights never need")
    return torch._utils._rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any, state: Any = None) -> torch.Tensor:
    """`torch._utils._rebuild_parameter[_with_state]`, reduced to the tensor: a state dict needs the
    numbers, not the `nn.Parameter` wrapper, its hooks or Python attributes set on it."""
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError(f"parameter rebuilt from {data!r} instead of a tensor")
    return data


_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _ZipStorages:
    """`persistent_load` for a torch zip archive: reads each storage record once, as torch.load does."""

    def __init__(self, reader: torch._C.PyTorchFileReader) -> None:
        self._reader = reader
        # Archives without a byte-order record are little-endian (torch's documented default).
        byte_order = reader.get_record("byteorder").decode() if reader.has_record("byteorder") else "little"
        self._swap_bytes = byte_order != sys.byteorder
        self._loaded: dict[str, torch.storage.TypedStorage] = {}

    def __call__(self, saved_id: Any) -> torch.storage.TypedStorage:
        if not (isinstance(saved_id, tuple) and len(saved_id) == 5):
            raise pickle.UnpicklingError(f"unknown persistent id {saved_id!r}")
        kind, storage_dtype, key, _location, numel = saved_id
        if kind not in ("storage", b"storage") or not isinstance(storage_dtype, _StorageDtype):
            raise pickle.UnpicklingError(f"unknown persistent id {saved_id!r}")
        if type(key) is not str or type(numel) is not int or numel < 0:
            raise pickle.UnpicklingError(f"malformed storage reference {saved_id!r}")
        if key not in self._loaded:
            self._loaded[key] = self._read(key, storage_dtype.dtype, numel)
        return self._loaded[key]

    def _read(self, key: str, dtype: torch.dtype, numel: int) -> torch.storage.TypedStorage:
        record = self._reader.get_storage_from_record(f"data/{key}", numel * dtype.itemsize, torch.UntypedStorage)
        untyped = record.untyped_storage()
        if self._swap_bytes:
            untyped.byteswap(dtype)
        return torch.storage.TypedStorage(wrap_storage=untyped, dtype=dtype, _internal=True)


_LEGACY_FORMAT_MESSAGE = (
    "tensor data outside a torch zip archive (the legacy pre-1.6 torch.save format); "
    "re-save it with a current PyTorch in a trusted environment"
)


def _refuse_tensor_data(saved_id: Any) -> None:
    raise UnsupportedPickleContent(_LEGACY_FORMAT_MESSAGE)


class RestrictedUnpickler(pickle.Unpickler):
    """A `pickle.Unpickler` that imports nothing: see the module docstring for what it allows."""

    def __init__(self, file: io.BufferedIOBase, persistent_load: Callable[[Any], Any]) -> None:
        super().__init__(file)
        self._persistent_load = persistent_load
        self._placeholders: dict[tuple[str, str], type[InertObject]] = {}

    def persistent_load(self, saved_id: Any) -> Any:
        return self._persistent_load(saved_id)

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is not None:
            return allowed
        if module == "torch":
            storage = _storage_dtype(name)
            if storage is not None:
                return storage
        return self._placeholder(module, name)

    def _placeholder(self, module: str, name: str) -> type[InertObject]:
        if (module, name) not in self._placeholders:
            attributes = {"pickled_global": f"{module}.{name}", "__module__": __name__}
            self._placeholders[module, name] = type(f"Inert_{name}", (InertObject,), attributes)
        return self._placeholders[module, name]


def unpickle_torch_zip(path: Path) -> Any:
    """The object a `torch.save` zip archive holds, tensors rebuilt on the CPU, nothing run."""
    reader = torch._C.PyTorchFileReader(str(path))
    pickled = reader.get_record("data.pkl")
    return RestrictedUnpickler(io.BytesIO(pickled), _ZipStorages(reader)).load()


def unpickle_plain(path: Path) -> Any:
    """The object a bare pickle file holds; it cannot contain tensors (they need a zip archive)."""
    with open(path, "rb") as file:
        loaded = RestrictedUnpickler(file, _refuse_tensor_data).load()
    if type(loaded) is int and loaded == _LEGACY_TORCH_MAGIC:
        raise UnsupportedPickleContent(_LEGACY_FORMAT_MESSAGE)
    return loaded
