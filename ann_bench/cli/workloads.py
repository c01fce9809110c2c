"""``ann-bench workloads``: build, import, inspect and list search workloads."""

from __future__ import annotations

import json
from pathlib import Path

from .. import paths
from .options import at_least
from ..errors import AnnBenchError


def latest_bundle(variant: str, model: str) -> Path:
    """The newest bundle of ``variant`` whose model is ``model`` (dot, cos or raw)."""
    from ..embeddings.config import model_tag

    def tag(bundle: Path) -> str | None:
        try:
            return model_tag(json.loads((bundle / "metrics.json").read_text())["models"]["two-tower"]["config"])
        except (OSError, ValueError, KeyError):
            return None

    bundles = sorted(paths.models_dir().glob(f"{variant}.*/embeddings.h5"), key=lambda f: f.stat().st_mtime)
    bundles = [b.parent for b in bundles if tag(b.parent) == model]
    if not bundles:
        raise AnnBenchError(f"no trained {model} model for {variant} under {paths.models_dir()}; run "
                            f"`ann-bench train {variant} --model {model}` first.")
    return bundles[-1]


def cmd_workloads_build(args) -> None:
    from ..threads import set_threads
    from ..workloads.build import WorkloadSpec, build

    set_threads(args.threads)
    bundle = args.bundle or latest_bundle(args.variant, args.model)
    spec = WorkloadSpec(kinds=tuple(args.kinds), u2i_metrics=tuple(args.u2i_metrics), i2i_metrics=tuple(args.i2i_metrics),
                        k=args.k, scale=args.scale, device=args.device)
    for path in build(bundle, spec, paths.workloads_dir()):
        print(f"wrote {path}")


def cmd_workloads_import(args) -> None:
    from ..threads import set_threads
    from ..workloads.byo import import_npy

    set_threads(args.threads)
    print(f"wrote {import_npy(args.base, args.queries, args.metric, args.name, paths.workloads_dir(), k=args.k, seen=args.seen, relevant=args.relevant)}")


def cmd_workloads_info(args) -> None:
    from ..workloads.inspect import info

    print(json.dumps(info(paths.find_workload(args.name)), indent=2, default=str))


def cmd_workloads_list(args) -> None:
    from ..workloads.format import read

    for f in paths.workload_files():
        w = read(f)
        print(f"{w.name:40} {w.metric:7} base {w.train.shape[0]:>9} x {w.dimension:<4} queries {len(w.test):>6}  {f}")


def register(sub) -> None:
    wl = sub.add_parser("workloads", help="search workloads: vectors + exact ground truth").add_subparsers(dest="workloads_command", required=True)
    wb = wl.add_parser("build", help="u2i/i2i workloads from a trained model")
    wb.add_argument("variant", help="MovieLens variant whose newest trained model to use")
    wb.add_argument("--model", choices=("dot", "cos", "raw"), default="dot",
                    help="the newest model of this kind (see `ann-bench train --help`; default %(default)s)")
    wb.add_argument("--bundle", type=Path, help="a specific model folder under datasets/models (instead of --model)")
    wb.add_argument("--kinds", nargs="+", default=["u2i", "i2i"], help="u2i and/or i2i (default %(default)s)")
    wb.add_argument("--u2i-metrics", nargs="+", default=["ip", "cosine", "l2"])
    wb.add_argument("--i2i-metrics", nargs="+", default=["cosine"])
    wb.add_argument("--scale", type=at_least(1), help="total base size: add synthetic items drawn from a mixture fitted to the real ones")
    wb.add_argument("--k", type=at_least(1), default=100, help="ground-truth neighbours per query (default %(default)s)")
    wb.add_argument("--threads", type=at_least(1), default=2, help="BLAS threads for the ground truth (default %(default)s)")
    wb.add_argument("--device", default="cpu",
                    help="where the exact ground truth is computed: cpu (BLAS), or cuda / cuda:N (PyTorch on that GPU; "
                         "the same neighbours, ties included) (default %(default)s)")
    wb.set_defaults(func=cmd_workloads_build)
    wi = wl.add_parser("import", help="bring your own embeddings: base/query .npy files")
    wi.add_argument("name")
    wi.add_argument("--base", type=Path, required=True)
    wi.add_argument("--queries", type=Path, required=True)
    wi.add_argument("--metric", choices=("ip", "cosine", "l2"), required=True)
    wi.add_argument("--k", type=at_least(1), default=100)
    wi.add_argument("--seen", type=Path, help="(n, 2) integer .npy of (query row, base row) pairs never to recommend: "
                                              "enables filtered search")
    wi.add_argument("--relevant", type=Path, help="(n, 2) integer .npy of (query row, base row) held-out positives: "
                                                  "enables end-to-end recommendation recall")
    wi.add_argument("--threads", type=at_least(1), default=2)
    wi.set_defaults(func=cmd_workloads_import)
    wn = wl.add_parser("info", help="sizes, norms, difficulty and provenance of a workload")
    wn.add_argument("name", help="workload name (e.g. ml-latest-small.dot.u2i.ip) or path")
    wn.set_defaults(func=cmd_workloads_info)
    wl.add_parser("list", help="list workloads").set_defaults(func=cmd_workloads_list)
