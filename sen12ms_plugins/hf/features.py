"""The ``datasets`` features of a SEN12MS example, and a fast numpy-to-Arrow conversion of examples.

The fields are those of :mod:`sen12ms_plugins.reading.examples`; image arrays are ``Array3D``
and masks ``Array2D`` in the reader's dtypes (``facts.DTYPES``; uint16 stays uint16 on disk),
``season`` and the scene label are ``ClassLabel`` (the TFDS builder's classes, in the same order)
and the multi-label a fixed-size multi-hot of bools, so every column of a split in torch format
goes through a plain ``DataLoader``.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Sequence

import datasets
import numpy as np
import pyarrow as pa

from ..dataset import facts
from ..errors import PatchFileError
from ..reading.configs import DatasetConfig
from ..reading.examples import MASK_DTYPES, METADATA_DTYPES, METADATA_FIELDS, SCENE_LABEL_NAMES, SEASON_NAMES

_METADATA_TYPES = {"id": "string", **METADATA_DTYPES}


def hf_features(config: DatasetConfig, patch_size: int) -> datasets.Features:
    """Features of ``config``'s examples for patches of ``patch_size`` pixels a side."""
    if patch_size < 1:
        raise ValueError(f"patch size must be positive, got {patch_size}")
    fields: dict[str, Any] = {
        name: datasets.ClassLabel(names=list(SEASON_NAMES)) if name == "season" else datasets.Value(_METADATA_TYPES[name])
        for name in METADATA_FIELDS
    }
    for sensor in config.sensors:
        shape = (len(config.bands[sensor]), patch_size, patch_size)
        fields[sensor] = datasets.Array3D(shape=shape, dtype=facts.DTYPES[sensor])
    for mask, dtype in MASK_DTYPES.items():
        fields[mask] = datasets.Array2D(shape=(patch_size, patch_size), dtype=dtype)
    fields["label"] = datasets.ClassLabel(names=list(SCENE_LABEL_NAMES))
    # Fixed length: a variable-length list cannot be stacked by torch's default_collate.
    # datasets.Sequence exists in 3.x and 4+/5 (there it is an alias of List).
    fields["labels"] = datasets.Sequence(datasets.Value("bool"), length=len(SCENE_LABEL_NAMES))
    return datasets.Features(fields)


def features_digest(config: DatasetConfig, patch_size: int) -> str:
    """A digest of the features of ``config``'s examples: part of every cache key and export
    stamp, so data written with other features (an older release) is never taken for current."""
    described = json.dumps(hf_features(config, patch_size).to_dict(), sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def example_nbytes(features: datasets.Features) -> int:
    """Approximate uncompressed Arrow size of one example: its arrays plus a small allowance."""
    total = 64  # ids, numbers and labels
    for feature in features.values():
        if isinstance(feature, (datasets.Array2D, datasets.Array3D)):
            total += int(np.prod(feature.shape)) * np.dtype(feature.dtype).itemsize
    return total


def parquet_row_nbytes(features: datasets.Features) -> int:
    """Upper bound of one example's uncompressed size in a Parquet row group written without
    dictionaries: Parquet stores every integer of 32 bits or fewer as INT32 (4 bytes), and
    the nested lists of an array add repetition and definition levels (measured: under
    0.03 bytes a value; 0.1 allowed)."""
    total = 256  # ids, numbers, labels and their levels
    for feature in features.values():
        if isinstance(feature, (datasets.Array2D, datasets.Array3D)):
            width = max(4, np.dtype(feature.dtype).itemsize)
            total += math.ceil(int(np.prod(feature.shape)) * (width + 0.1))
    return total


def _nested_lists(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A [B, d1, …, dk] C-contiguous array as B nested Arrow lists of the given (list) type, without copying."""
    flat = pa.array(np.ascontiguousarray(values).reshape(-1), type=pa.from_numpy_dtype(values.dtype))
    array: pa.Array = flat
    for depth in range(values.ndim - 1, 0, -1):
        rows = int(np.prod(values.shape[:depth]))
        offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * values.shape[depth], type=pa.int32())
        array = pa.ListArray.from_arrays(offsets, array)
    return array.cast(type_) if array.type != type_ else array


def examples_to_table(examples: Sequence[dict[str, Any]], features: datasets.Features) -> pa.Table:
    """Encode examples (dicts as :func:`~sen12ms_plugins.reading.examples.read_example` returns) as one Arrow table.

    Arrays are stacked and wrapped in the ``Array2D``/``Array3D`` extension types directly,
    which is much faster than encoding them value by value.
    """
    schema = features.arrow_schema
    columns = []
    for field in schema:
        name, feature = field.name, features[field.name]
        values = [e[name] for e in examples]
        if isinstance(feature, (datasets.Array2D, datasets.Array3D)):
            stacked = np.stack(values)
            expected = (len(examples), *feature.shape)
            if stacked.shape != expected or stacked.dtype != np.dtype(feature.dtype):
                raise ValueError(
                    f"field {name!r}: got {stacked.dtype} {stacked.shape[1:]}, expected {feature.dtype} {feature.shape}"
                )
            storage = _nested_lists(stacked, field.type.storage_type)
            columns.append(pa.ExtensionArray.from_storage(field.type, storage))
        else:
            # ClassLabel values are already class numbers, so plain values encode as they are
            columns.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def table_to_numpy(table: pa.Table) -> dict[str, Any]:
    """A batch in Arrow form (``ds.with_format("arrow")``) as numpy arrays with the files' dtypes.

    ``with_format("numpy")`` widens every integer array to int64 (uint16 takes four
    times the memory); this keeps uint16 as uint16 and float32 as float32.  A column held
    in one piece (what ``ds.with_format("arrow").iter(batch_size=n)`` gives within a cache
    file) is not copied: its arrays are read-only views of the Arrow memory, memory-mapped
    cache files included (copy one to change it); a column in several pieces is copied into
    one array.  Arrays come out as ``[batch, *shape]`` (``labels``: bool ``[batch, 11]``);
    ``id`` as an object array of str.
    """
    out: dict[str, Any] = {}
    for name in table.column_names:
        chunks = table[name].chunks
        out[name] = array_view(chunks[0] if len(chunks) == 1 else table[name].combine_chunks())
    return out


def array_view(array: pa.Array) -> np.ndarray:
    """One Arrow array of a SEN12MS column as numpy ``[len(array), *shape]`` in its stored dtype:
    a read-only view of the Arrow memory where Arrow allows one (numbers, ``Array2D``/``Array3D``
    without nulls), else a copy (bools, which Arrow packs in bits; strings, as objects)."""
    if isinstance(array.type, pa.ExtensionType) and hasattr(array.type, "shape"):
        values = array.storage
        while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
            values = values.flatten()  # honours slicing, unlike .values
        return values.to_numpy(zero_copy_only=False).reshape(len(array), *array.type.shape)
    if pa.types.is_fixed_size_list(array.type):
        return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), array.type.list_size)
    return array.to_numpy(zero_copy_only=False)


def check_example_size(example: dict[str, Any], patch_size: int, root: Any, pid: Any) -> dict[str, Any]:
    """Return ``example`` if its patches are ``patch_size`` pixels a side; else raise naming the file.

    Array features have a fixed shape, taken from the root's first triplet, so a patch
    of another size cannot be stored.
    """
    height, width = example["igbp"].shape
    if (height, width) != (patch_size, patch_size):
        raise PatchFileError(
            pid.path(root, "lc"),
            f"is {width}x{height} pixels, but the other patches of this root are {patch_size}x{patch_size}",
        )
    return example
