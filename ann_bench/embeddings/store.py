"""A trained model's bundle: checkpoint, configs, quality metrics and exported vectors together.

The workloads stage reads only ``embeddings.h5``; ``model.pt`` lets a model be reloaded.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..data import Prepared
from ..files import write_bytes
from ..h5util import atomic_h5, get_json, open_h5, set_json
from .config import model_tag

FORMAT_VERSION = 1


def save_bundle(out_dir: Path, p: Prepared, prepared_file: Path, trained, vectors: dict, report: dict) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = asdict(trained.config)
    import torch  # only here: reading a bundle's vectors (the workloads stage) needs no torch

    model = io.BytesIO()
    torch.save({"state_dict": trained.final.state_dict(), "train_config": cfg, "prepared": str(prepared_file)}, model)
    write_bytes(out_dir / "model.pt", model.getvalue())
    write_bytes(out_dir / "metrics.json", json.dumps(report, indent=2, sort_keys=True, default=str).encode())
    with atomic_h5(out_dir / "embeddings.h5") as f:
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["name"] = p.name
        f.attrs["normalized"] = bool(trained.config.tower.normalize and not trained.config.tower.item_bias)  # unit vectors
        f.attrs["model"] = model_tag(asdict(trained.config))
        f.create_dataset("items", data=vectors["items"].astype(np.float32))
        f.create_dataset("users", data=vectors["users"].astype(np.float32))
        f.create_dataset("item_ids", data=p.items["item_id"].to_numpy())
        f.create_dataset("user_ids", data=p.users["user_id"].to_numpy())
        set_json(f, "train_config", cfg)
        set_json(f, "metrics", report)
        f.attrs["prepared_file"] = str(prepared_file)
    return out_dir


def load_vectors(bundle: Path) -> dict:
    """Item and user vectors of a bundle, with their ids and the run's metadata."""
    with open_h5(Path(bundle) / "embeddings.h5", "embeddings") as f:
        return {
            "items": f["items"][()],
            "users": f["users"][()],
            "item_ids": f["item_ids"][()],
            "user_ids": f["user_ids"][()],
            "train_config": get_json(f, "train_config"),
            "metrics": get_json(f, "metrics"),
            "prepared_file": str(_prepared_file(Path(bundle), Path(str(f.attrs["prepared_file"])))),
        }


def _prepared_file(bundle: Path, recorded: Path) -> Path:
    """The split the bundle was trained on: the recorded path, or, when the project folder has
    moved since training, the same file in the ``prepared`` folder beside the bundle's ``models``."""
    if recorded.exists():
        return recorded
    moved = bundle.resolve().parent.parent / "prepared" / recorded.name
    return moved if moved.exists() else recorded
