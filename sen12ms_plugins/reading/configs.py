"""The configurations every ecosystem adapter offers: which sensors (and bands) an example carries.

One table, imported by the TensorFlow Datasets builder and the Hugging Face
builder, so that ``tfds.load("sen12ms/s2")`` and ``load_dataset("sen12ms", "s2")``
mean the same thing.

=========  ====================================  =====================================
name       image arrays                          use
=========  ====================================  =====================================
``all``    s1 [2,H,W], s2 [13,H,W], lc [4,H,W]   everything in the files (default)
``s2``     s2 [13,H,W]                           optical-only models
``s1s2``   s1 [2,H,W], s2 [13,H,W]               SAR/optical fusion
=========  ====================================  =====================================

Every configuration also carries the label layers derived from the land-cover
file (IGBP and simplified/DFC masks, the scene labels): the land-cover file is read
in every configuration, whole for ``all``, its IGBP band only otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Mapping

from ..dataset import facts


@dataclass(frozen=True)
class DatasetConfig:
    """One configuration: a name, a description and the bands of each sensor it carries."""

    name: str
    description: str
    #: Sensor -> band names (file order) of the image arrays an example carries.
    bands: Mapping[str, tuple[str, ...]]

    @property
    def sensors(self) -> tuple[str, ...]:
        """The sensors whose arrays an example carries, in :data:`facts.SENSORS` order."""
        return tuple(s for s in facts.SENSORS if s in self.bands)

    def read_bands(self) -> dict[str, tuple[str, ...]]:
        """What the reader must read for one example: the image bands, plus IGBP for the labels."""
        wanted = {s: self.bands[s] for s in self.sensors}
        wanted.setdefault("lc", ("IGBP",))
        return wanted


def _whole(*sensors: str) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({s: facts.BANDS[s] for s in sensors})


CONFIGS: Final[Mapping[str, DatasetConfig]] = MappingProxyType(
    {
        c.name: c
        for c in (
            DatasetConfig(
                "all",
                "All three sensors, every band: Sentinel-1 (VV, VH), Sentinel-2 (13 bands), "
                "MODIS land cover (IGBP, LCCS land cover, land use, surface hydrology).",
                _whole("s1", "s2", "lc"),
            ),
            DatasetConfig(
                "s2",
                "Sentinel-2 only (13 bands), with the land-cover labels.",
                _whole("s2"),
            ),
            DatasetConfig(
                "s1s2",
                "Sentinel-1 (VV, VH) and Sentinel-2 (13 bands), with the land-cover labels.",
                _whole("s1", "s2"),
            ),
        )
    }
)
DEFAULT_CONFIG: Final = "all"


def get_config(name: str | None = None) -> DatasetConfig:
    """The configuration called ``name`` (default: ``all``); an unknown name lists the known ones."""
    name = DEFAULT_CONFIG if name is None else name
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown configuration {name!r}; expected one of {', '.join(CONFIGS)}") from None
