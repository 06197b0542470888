"""SEN12MS for TensorFlow Datasets.

``import sen12ms_plugins.tfds`` registers the ``sen12ms`` builder, after which
``tfds.load("sen12ms", split="holdout")`` works.  This folder is also the
``tfds new`` layout (``tfds_builder/sen12ms`` in the repository); the installed
package reaches it as ``sen12ms_plugins.tfds`` through a symbolic link.
"""

# Always through the installed name, even when this folder is imported under
# another one (pytest, ``tfds build tfds_builder/sen12ms``): the builder must be
# defined once, and Beam workers find its helpers by that name.
from sen12ms_plugins.errors import MissingExtraError

try:  # checked first, so that a missing extra is one clear line, not a deep traceback
    import tensorflow_datasets  # noqa: F401
except ImportError as _exc:
    raise (MissingExtraError.from_import_error(_exc, "sen12ms_plugins.tfds") or _exc) from None

from sen12ms_plugins.tfds.sen12ms_dataset_builder import Builder  # noqa: E402

__all__ = ["Builder"]
