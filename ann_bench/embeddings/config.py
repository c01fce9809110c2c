"""Model and training settings, importable without torch (the CLI reads their defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .metrics import KS


@dataclass(frozen=True)
class TowerConfig:
    """Sizes of both towers; ``normalize`` makes the outputs unit-norm (the cos model, where ip,
    cosine and l2 rank alike); by default the outputs are raw (the dot model: true MIPS)."""

    dim: int = 64
    id_dim: int = 64
    feature_dim: int = 32
    hidden: int = 256
    normalize: bool = False
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
            "select_k": self.select_k in KS,
            "tower.dim": self.tower.dim >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid training setting(s): {', '.join(bad)} (select_k must be one of {KS}).")


def model_tag(train_config: dict) -> str:
    """``cos`` for a model with unit-norm towers, ``dot`` for one trained on raw inner products
    (from a stored training configuration, ``asdict(TrainConfig)``)."""
    return "cos" if train_config.get("tower", {}).get("normalize", False) else "dot"
