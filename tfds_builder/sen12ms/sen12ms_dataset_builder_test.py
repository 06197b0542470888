"""TFDS's own builder test on ``dummy_data/`` (made by ``tools/make_tfds_files.py``).

``dummy_data/`` is the built-in sample with 2 patches in each of its 20 scenes:
40 triplets, of which 14 lie in hold-out scenes, 1 is the damaged patch (in no
split) and 25 form ``train``: 8 in the validation scenes, 17 in the others; and
DFC2020-like set folders with 2 validation and 3 test patches.
``train`` shares its examples with ``validation`` and ``train_minus_validation``
by design, hence ``OVERLAPPING_SPLITS``.
"""

import os
from unittest import mock

import tensorflow_datasets as tfds

from sen12ms_plugins.dataset.root import ENV_VAR
from sen12ms_plugins.tfds import sen12ms_dataset_builder


class Sen12msTest(tfds.testing.DatasetBuilderTestCase):
    """Builds every config from ``dummy_data/`` (the manual folder) and reads it back."""

    DATASET_CLASS = sen12ms_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [config.name for config in sen12ms_dataset_builder.BUILDER_CONFIGS]
    SPLITS = {"train": 25, "holdout": 14, "validation": 8, "train_minus_validation": 17,
              "dfc2020_validation": 2, "dfc2020_test": 3}
    OVERLAPPING_SPLITS = ["train"]
    SKIP_CHECKSUMS = True  # nothing is downloaded through TFDS's download manager

    def test_session(self, *args, **kwargs):
        return super().test_session(*args, **kwargs)

    # tf.test.TestCase's ``test_session`` is a helper (the graph-mode run uses it),
    # not a test; collected by pytest it shows up as a skip.
    test_session.__test__ = False

    def setUp(self):
        # The manual folder is the third choice of the root rule: make sure the
        # environment does not win over dummy_data/.
        env = mock.patch.dict(os.environ)
        env.start()
        self.addCleanup(env.stop)
        os.environ.pop(ENV_VAR, None)
        super().setUp()


if __name__ == "__main__":
    tfds.testing.test_main()
