"""Small generated MovieLens releases in each official layout, for tests.

Ratings have structure (users prefer one of a few genres) so a model can learn something,
and timestamps grow per user so temporal splits are meaningful.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ann_bench.data.variants import Variant

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance"]


def synthetic(n_users: int = 60, n_items: int = 40, per_user: int = 15, seed: int = 0):
    rng = np.random.default_rng(seed)
    item_genre = np.arange(n_items) % len(GENRES)
    rows = []
    for u in range(n_users):
        fav = u % len(GENRES)
        prob = np.where(item_genre == fav, 4.0, 1.0)
        items = rng.choice(n_items, size=per_user, replace=False, p=prob / prob.sum())
        for k, i in enumerate(items):
            rating = 5.0 if item_genre[i] == fav else float(rng.choice([2.0, 3.0, 4.5]))
            rows.append((u + 1, int(i) + 1, rating, 900_000_000 + u * 10_000 + k * 100))
    movies = [(i + 1, f"Movie {i + 1} ({1980 + i % 30})", GENRES[item_genre[i]]) for i in range(n_items)]
    return rows, movies


def write_release(root: Path, layout: str, name: str = "ml-test", **kw) -> Path:
    """Write a release folder ``root/name`` in ``layout`` (csv, dat or 100k)."""
    rows, movies = synthetic(**kw)
    d = root / name
    d.mkdir(parents=True)
    if layout == "csv":
        (d / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows))
        lines = [f'{i},"{t}",{g}' if "," in t else f"{i},{t},{g}" for i, t, g in movies]
        (d / "movies.csv").write_text("movieId,title,genres\n" + "\n".join(lines) + "\n", encoding="utf-8")
    elif layout == "dat":
        (d / "ratings.dat").write_text("".join(f"{u}::{i}::{int(r)}::{t}\n" for u, i, r, t in rows), encoding="latin-1")
        (d / "movies.dat").write_text("".join(f"{i}::{t}::{g}\n" for i, t, g in movies), encoding="latin-1")
        users = sorted({u for u, *_ in rows})
        (d / "users.dat").write_text("".join(f"{u}::{'MF'[u % 2]}::{18 + u % 40}::{u % 5}::5540{u % 10}\n" for u in users), encoding="latin-1")
    elif layout == "100k":
        (d / "u.data").write_text("".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in rows))
        (d / "u.genre").write_text("unknown|0\n" + "".join(f"{g}|{k + 1}\n" for k, g in enumerate(GENRES)) + "\n")
        item_lines = []
        for i, t, g in movies:
            flags = ["0"] + ["1" if g == x else "0" for x in GENRES]
            item_lines.append(f"{i}|{t}|01-Jan-{t[-5:-1]}||http://example.invalid/{i}|" + "|".join(flags))
        (d / "u.item").write_text("\n".join(item_lines) + "\n", encoding="latin-1")
        users = sorted({u for u, *_ in rows})
        (d / "u.user").write_text("".join(f"{u}|{18 + u % 40}|{'MF'[u % 2]}|{['writer', 'other', 'doctor'][u % 3]}|5540{u % 10}\n" for u in users), encoding="latin-1")
    else:
        raise ValueError(layout)
    return d


def zip_release(folder: Path) -> Path:
    out = folder.parent / f"{folder.name}.zip"
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(f"{folder.name}/", "")
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{folder.name}/{f.name}")
    return out


def variant_for(archive: Path, layout: str, *, base_url: str = "http://127.0.0.1:1/", sha256: str | None = None) -> Variant:
    """A Variant whose published checksum is that of ``archive`` (or the given one)."""
    name = archive.name.removesuffix(".zip")
    digest = sha256 or hashlib.sha256(archive.read_bytes()).hexdigest()
    v = Variant(name, layout=layout, folder=name, md5="0" * 32, sha256=digest, size=archive.stat().st_size,
                base_url=base_url, has_users=layout != "csv")
    return replace(v)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared split of a small generated ml-100k-layout release (150 users, 60 items): enough
    for a model to learn something in seconds."""
    from ann_bench.data import PrepConfig, fetch, load, prepare

    tmp = tmp_path_factory.mktemp("ml")
    folder = write_release(tmp, "100k", n_users=150, n_items=60, per_user=20)
    ml = load(fetch(variant_for(zip_release(folder), "100k"), cache_dir=tmp / "c", source=folder))
    return prepare(ml, PrepConfig())
