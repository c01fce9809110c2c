"""Parse each MovieLens layout into the same three tables.

- ratings: ``user_id, item_id, rating, timestamp``
- movies: ``item_id, title, year, genres`` (genres ``|``-joined, ``""`` when none)
- users: ``user_id, gender, age, occupation`` where the release has demographics, else None
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from .fetch import Source

_YEAR_IN_TITLE = re.compile(r"\((\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")
_NO_GENRES = {"(no genres listed)", "unknown"}


@dataclass
class MovieLens:
    """One parsed release; ``users`` is None where the release has no demographics."""

    name: str
    ratings: pd.DataFrame
    movies: pd.DataFrame
    users: pd.DataFrame | None
    provenance: dict


def title_year(title: str) -> int | None:
    """The release year at the end of a MovieLens title, e.g. ``Heat (1995)`` -> 1995."""
    m = _YEAR_IN_TITLE.search(title)
    return int(m.group(1)) if m else None


def _clean_genres(genres: pd.Series) -> pd.Series:
    return genres.fillna("").map(lambda g: "|".join(x for x in g.split("|") if x and x not in _NO_GENRES))


def _read_table(data: bytes, *, what: str, sep: str, names: list[str], encoding: str, header=None, **kw) -> pd.DataFrame:
    try:
        df = pd.read_csv(
            io.BytesIO(data), sep=sep, names=names, header=header, encoding=encoding, **kw
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot parse {what}: {' '.join(str(exc).split())}") from None
    if df.shape[1] != len(names) or df[names[0]].isna().any():
        raise DataError(f"cannot parse {what}: expected columns {names}.")
    return df


def _ratings(df: pd.DataFrame, what: str) -> pd.DataFrame:
    try:
        with np.errstate(over="ignore"):  # a huge rating becomes inf, refused below with its row
            out = _typed(df)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(f"cannot parse {what}: non-numeric ratings ({exc}).") from None
    if out.empty:
        raise DataError(f"{what} has no ratings.")
    _check_range(out, "rating", RATING_SCALE, what)
    _check_range(out, "timestamp", (0, np.iinfo(np.int64).max), what)
    return out


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": df["user_id"].astype(np.int64),
        "item_id": df["item_id"].astype(np.int64),
        "rating": df["rating"].astype(np.float32),
        "timestamp": df["timestamp"].astype(np.int64),
    })


RATING_SCALE = (0.5, 5.0)  # MovieLens: half stars from 0.5 (whole stars from 1 in ml-100k/ml-1m)


def _check_range(df: pd.DataFrame, col: str, bounds: tuple, what: str) -> None:
    """Refuse a value outside ``bounds`` (or NaN), naming the first bad row: a ratings file
    with them is not a MovieLens release, and would silently change the positives."""
    v = df[col].to_numpy()
    bad = ~((v >= bounds[0]) & (v <= bounds[1]))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what}: {col} {v[i]} of user {df['user_id'].iat[i]}, item {df['item_id'].iat[i]} is outside "
                        f"{bounds[0]}..{bounds[1]} ({int(bad.sum())} such rows): not a MovieLens ratings file.")


def _movies(item_id, title, genres, year=None) -> pd.DataFrame:
    title = pd.Series(title, dtype=str).str.strip()
    if year is None:
        year = title.map(title_year)
    return pd.DataFrame(
        {
            "item_id": pd.Series(item_id).astype(np.int64).to_numpy(),
            "title": title.to_numpy(),
            "year": pd.array(year, dtype="Int64"),
            "genres": _clean_genres(pd.Series(genres)).to_numpy(),
        }
    )


def _parse_100k(src: Source) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    r = _read_table(src.read_bytes("u.data"), what="u.data", sep="\t",
                    names=["user_id", "item_id", "rating", "timestamp"], encoding="latin-1")
    genre_names = _read_table(src.read_bytes("u.genre"), what="u.genre", sep="|",
                              names=["genre", "idx"], encoding="latin-1").sort_values("idx")["genre"].tolist()
    cols = ["item_id", "title", "release", "video_release", "url", *genre_names]
    items = _read_table(src.read_bytes("u.item"), what="u.item", sep="|", names=cols,
                        encoding="latin-1", quoting=csv.QUOTE_NONE)
    flags = items[genre_names].fillna(0).astype(int).to_numpy()
    genres = ["|".join(g for g, f in zip(genre_names, row) if f) for row in flags]
    release_year = pd.to_datetime(items["release"], format="%d-%b-%Y", errors="coerce").dt.year
    year = [title_year(t) or (None if pd.isna(y) else int(y)) for t, y in zip(items["title"].astype(str), release_year)]
    movies = _movies(items["item_id"], items["title"].astype(str), genres, year)
    u = _read_table(src.read_bytes("u.user"), what="u.user", sep="|",
                    names=["user_id", "age", "gender", "occupation", "zip"], encoding="latin-1")
    users = u[["user_id", "gender", "age", "occupation"]].astype({"occupation": str})
    return _ratings(r, "u.data"), movies, users


def _dat(data: bytes) -> bytes:
    """``::``-separated to tab-separated, so pandas' fast C parser can read it."""
    return data.replace(b"::", b"\t")


def _parse_dat(src: Source) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    r = _read_table(_dat(src.read_bytes("ratings.dat")), what="ratings.dat", sep="\t",
                    names=["user_id", "item_id", "rating", "timestamp"], encoding="latin-1")
    m = _read_table(_dat(src.read_bytes("movies.dat")), what="movies.dat", sep="\t",
                    names=["item_id", "title", "genres"], encoding="latin-1", quoting=csv.QUOTE_NONE)
    users = None
    if src.has("users.dat"):
        u = _read_table(_dat(src.read_bytes("users.dat")), what="users.dat", sep="\t",
                        names=["user_id", "gender", "age", "occupation", "zip"], encoding="latin-1")
        users = u[["user_id", "gender", "age", "occupation"]].astype({"occupation": str})
    return _ratings(r, "ratings.dat"), _movies(m["item_id"], m["title"].astype(str), m["genres"]), users


def _parse_csv(src: Source) -> tuple[pd.DataFrame, pd.DataFrame, None]:
    r = _read_table(src.read_bytes("ratings.csv"), what="ratings.csv", sep=",", header=0,
                    names=["user_id", "item_id", "rating", "timestamp"], encoding="utf-8")
    m = _read_table(src.read_bytes("movies.csv"), what="movies.csv", sep=",", header=0,
                    names=["item_id", "title", "genres"], encoding="utf-8")
    return _ratings(r, "ratings.csv"), _movies(m["item_id"], m["title"].astype(str), m["genres"]), None


_PARSERS = {"100k": _parse_100k, "dat": _parse_dat, "csv": _parse_csv}


def load(src: Source) -> MovieLens:
    """Parse a fetched release; every rated item is guaranteed a row in ``movies``."""
    ratings, movies, users = _PARSERS[src.variant.layout](src)
    movies = movies.drop_duplicates("item_id").reset_index(drop=True)
    unknown = np.setdiff1d(ratings["item_id"].unique(), movies["item_id"].to_numpy())
    if len(unknown):
        raise DataError(
            f"{src.path}: {len(unknown)} rated item ids have no movie row (e.g. {unknown[:3].tolist()}); "
            f"the release is incomplete."
        )
    return MovieLens(src.variant.name, ratings, movies, users, dict(src.provenance))
