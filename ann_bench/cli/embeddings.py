"""``ann-bench train`` and ``ann-bench models``: the two-tower model and its quality."""

from __future__ import annotations

import json
from pathlib import Path

from .. import paths
from ..embeddings.config import LR_PLATEAU, MODELS
from ..errors import AnnBenchError
from .data import add_prep_args, add_source_args, prepared
from .options import at_least, fraction, non_negative, positive


def cmd_train(args) -> None:
    from ..embeddings.kernels import pin

    pin()  # before torch is imported: AVX2 kernels, whatever the CPU (see the module)
    from ..data import summary_table
    from ..embeddings.config import TowerConfig
    from ..embeddings.run import bundle_name, quality_table, train_and_evaluate
    from ..embeddings.config import TrainConfig
    from ..threads import set_threads

    set_threads(args.threads)
    if args.device != "cpu":  # a missing GPU is said before the data is read
        from ..torch_search import device

        device(args.device)
    p, path = prepared(args)
    print(summary_table(p.summary))
    tower = TowerConfig(dim=args.dim, **MODELS[args.model], title_words=not args.no_title_words,
                        user_ids=not args.no_user_ids)
    cfg = TrainConfig(tower=tower, max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                      temperature=args.temperature[0], norm_penalty=args.norm_penalty, logq=not args.no_logq, uniform_negatives=args.uniform_negatives,
                      patience=args.patience, lr_cut=args.lr_cut, seed=args.seed,
                      lr_plateau=LR_PLATEAU[args.model] if args.lr_plateau is None else args.lr_plateau)
    bundle = paths.models_dir() / bundle_name(p, cfg, tuple(args.temperature), args.device)
    done = bundle / "metrics.json"
    if done.exists() and not args.force:
        report = json.loads(done.read_text())
        if args.no_baselines or "als" in report["models"]:
            print(quality_table([report]))
            print(f"already trained: {bundle} (--force retrains)")
            return
    out, report = train_and_evaluate(p, path, cfg, paths.models_dir(), temperatures=tuple(args.temperature),
                                     baselines=not args.no_baselines, threads=args.threads, device=args.device)
    print(quality_table([report]))
    print(f"wrote {out}")


def cmd_models_table(args) -> None:
    from ..embeddings.run import quality_table

    files = sorted(paths.models_dir().glob("*/metrics.json")) if not args.bundles else [Path(b) / "metrics.json" for b in args.bundles]
    if not files:
        raise AnnBenchError(f"no trained models under {paths.models_dir()}; run `ann-bench train VARIANT` first.")
    print(quality_table([json.loads(f.read_text()) for f in files]))


def register(sub) -> None:
    t = sub.add_parser("train", help="train the two-tower model and evaluate it against baselines")
    add_source_args(t)
    add_prep_args(t)
    from ..embeddings.config import TowerConfig
    from ..embeddings.config import TrainConfig

    td, tw = TrainConfig(), TowerConfig()
    g = t.add_argument_group("model")
    g.add_argument("--dim", type=at_least(1), default=tw.dim, help="output dimension (default %(default)s)")
    g.add_argument("--model", choices=tuple(MODELS), default="dot",
                   help="dot: unit directions plus an item-bias coordinate, scored by raw inner product (default); "
                        "cos: unit-norm outputs (ip, cosine and l2 rank alike); raw: unconstrained outputs")
    g.add_argument("--no-title-words", action="store_true", help="leave title words out of the item tower")
    g.add_argument("--no-user-ids", action="store_true", help="user tower from history and demographics only")
    g.add_argument("--temperature", type=positive, nargs="+", default=[0.1, 0.15, 0.2, 0.3],
                   help="softmax temperature(s); with several, the best on validation is kept (default %(default)s)")
    g.add_argument("--norm-penalty", type=non_negative, default=td.norm_penalty,
                   help="weight of the mean squared vector norm added to the loss (dot model; default %(default)s)")
    g.add_argument("--no-logq", action="store_true", help="turn off the logQ popularity correction")
    g.add_argument("--uniform-negatives", type=at_least(0), default=td.uniform_negatives, help="extra uniform negatives per batch")
    g.add_argument("--epochs", type=at_least(1), default=td.max_epochs, help="maximum epochs (early stopping ends sooner)")
    g.add_argument("--patience", type=at_least(1), default=td.patience)
    g.add_argument("--batch-size", type=at_least(1), default=td.batch_size)
    g.add_argument("--lr", type=positive, default=td.lr)
    g.add_argument("--lr-plateau", type=at_least(0),
                   help="cut the learning rate after this many epochs without a better validation score "
                        f"(0: never; default per model: {', '.join(f'{m} {n}' for m, n in LR_PLATEAU.items())})")
    g.add_argument("--lr-cut", type=fraction, default=td.lr_cut, help="what each cut multiplies the learning rate by (default %(default)s)")
    g.add_argument("--weight-decay", type=non_negative, default=td.weight_decay, help="AdamW weight decay (default %(default)s)")
    g.add_argument("--seed", type=at_least(0), default=td.seed)
    g.add_argument("--threads", type=at_least(1), default=1, help="threads for torch, BLAS and ALS (default %(default)s)")
    g.add_argument("--device", default="cpu",
                   help="where the two-tower model trains: cpu, or cuda / cuda:N (a GPU; same protocol and metrics, "
                        "its own bundle) (default %(default)s)")
    g.add_argument("--no-baselines", action="store_true", help="skip the popularity and ALS baselines")
    t.set_defaults(func=cmd_train)


    models = sub.add_parser("models", help="trained models").add_subparsers(dest="models_command", required=True)
    mt = models.add_parser("table", help="Markdown table of test quality for trained models")
    mt.add_argument("bundles", nargs="*", help="model folders (default: all under datasets/models)")
    mt.set_defaults(func=cmd_models_table)
