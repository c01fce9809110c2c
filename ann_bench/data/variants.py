"""The MovieLens variants: where each comes from, how to verify it, how it is laid out.

Checksums are GroupLens' published ones. sha256 is checked where it is known, md5 otherwise
(GroupLens publishes ``<archive>.md5`` beside each archive).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..errors import ConfigError

BASE_URL = "https://files.grouplens.org/datasets/movielens/"

LICENSE = (
    "MovieLens data (GroupLens Research, University of Minnesota): research use only; no "
    "commercial use without permission; ml-100k and ml-1m may not be redistributed."
)
CITATION = (
    "Cite: F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History "
    "and Context. ACM TiiS 5(4): 19. https://doi.org/10.1145/2827872"
)


@dataclass(frozen=True)
class Variant:
    """One MovieLens release: archive name, checksums, inner folder and file layout."""

    name: str
    layout: str  # "100k" (tab/pipe), "dat" (:: separated) or "csv" (header, UTF-8)
    folder: str  # top-level folder inside the archive
    md5: str
    sha256: str | None = None
    size: int | None = None
    base_url: str = BASE_URL
    has_users: bool = False

    @property
    def archive(self) -> str:
        return f"{self.name}.zip"

    @property
    def url(self) -> str:
        return self.base_url + self.archive

    @property
    def ratings_file(self) -> str:
        return {"100k": "u.data", "dat": "ratings.dat", "csv": "ratings.csv"}[self.layout]


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "ml-latest-small",
            layout="csv",
            folder="ml-latest-small",
            md5="31a303aabbc519bd33d025e44d6c2570",
            sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            size=978_202,
        ),
        Variant(
            "ml-100k",
            layout="100k",
            folder="ml-100k",
            md5="0e33842e24a9c977be4e0107933c0723",
            sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            size=4_924_029,
            has_users=True,
        ),
        Variant(
            "ml-1m",
            layout="dat",
            folder="ml-1m",
            md5="c4d9eecfca2ab87c1945afe126590906",
            sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            size=5_917_549,
            has_users=True,
        ),
        Variant("ml-10m", layout="dat", folder="ml-10M100K", md5="ce571fd55effeba0271552578f2648bd"),
        Variant(
            "ml-20m",
            layout="csv",
            folder="ml-20m",
            md5="cd245b17a1ae2cc31bb14903e1204af3",
            sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
            size=198_702_078,
        ),
        Variant(
            "ml-25m",
            layout="csv",
            folder="ml-25m",
            md5="6b51fb2759a8657d3bfcbfc42b592ada",
            sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
            size=261_978_986,
        ),
        Variant("ml-32m", layout="csv", folder="ml-32m", md5="d472be332d4daa821edc399621853b57"),
    )
}


def get_variant(name: str) -> Variant:
    """Look a variant up by name; a misspelt name gets a suggestion."""
    try:
        return VARIANTS[name]
    except KeyError:
        close = difflib.get_close_matches(name, VARIANTS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"unknown MovieLens variant '{name}'.{hint} Known: {', '.join(VARIANTS)}."
        ) from None
