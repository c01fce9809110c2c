"""Read and write :class:`Prepared` splits (one HDF5 file per variant and configuration)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..h5util import atomic_h5, get_json, open_h5, read_frame, set_json, write_frame
from .preprocess import PrepConfig, Prepared

FORMAT_VERSION = 2  # 2: items' first_rated, last_rated and n_ratings


def prepared_path(root: Path, name: str, cfg: PrepConfig) -> Path:
    return Path(root) / f"{name}.{cfg.split}-{cfg.tag()}.h5"


def save(p: Prepared, path: Path) -> Path:
    with atomic_h5(path) as f:
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["name"] = p.name
        set_json(f, "config", asdict(p.config))
        set_json(f, "summary", p.summary)
        set_json(f, "provenance", p.provenance)
        for key in ("interactions", "items", "users"):
            write_frame(f.create_group(key), getattr(p, key))
    return path


def load(path: Path) -> Prepared:
    with open_h5(path, "prepared split") as f:
        return Prepared(
            name=str(f.attrs["name"]),
            config=PrepConfig(**get_json(f, "config")),
            interactions=read_frame(f["interactions"]),
            items=read_frame(f["items"]),
            users=read_frame(f["users"]),
            summary=get_json(f, "summary", {}),
            provenance=get_json(f, "provenance", {}),
        )


def load_or_prepare(
    variant,
    cfg: PrepConfig,
    *,
    root: Path,
    cache_dir: Path,
    source: Path | None = None,
    download_ok: bool = True,
    verify: bool = True,
    force: bool = False,
) -> tuple[Prepared, Path]:
    """The prepared split for (variant, cfg): read from ``root`` if there, else built and saved."""
    from .fetch import fetch
    from .parse import load as parse
    from .preprocess import RATING_TIMES, prepare, warn_if_few_test_users

    path = prepared_path(root, variant.name, cfg)
    if path.exists() and not force:
        p = load(path)
        if all(c in p.items for c in RATING_TIMES):  # else made before items carried them: prepared again
            warn_if_few_test_users(p)
            return p, path
    src = fetch(variant, cache_dir=cache_dir, source=source, download_ok=download_ok, verify=verify)
    p = prepare(parse(src), cfg)
    return p, save(p, path)
