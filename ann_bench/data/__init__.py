"""Stage 1: MovieLens fetch, parse, preprocess and split."""

from .fetch import Source, fetch
from .parse import MovieLens, load
from .preprocess import TEST, TRAIN, VAL, PrepConfig, Prepared, prepare, summary_table
from .variants import VARIANTS, Variant, get_variant

__all__ = [
    "VARIANTS", "Variant", "get_variant", "Source", "fetch", "MovieLens", "load",
    "PrepConfig", "Prepared", "prepare", "summary_table", "TRAIN", "VAL", "TEST",
]
