"""``ann-bench report``, ``plots`` and ``notebook``: the answers."""

from __future__ import annotations

from pathlib import Path

from .. import paths
from .options import add_results_option, results_dir


def cmd_report(args) -> None:
    from ..analysis.report import build_report

    index = build_report(results_dir(args), paths.workloads_dir(), results_dir(args) / "report", qps=args.qps)
    print(f"wrote {index}")


def cmd_plots(args) -> None:
    from ..analysis.plots import all_plots
    from ..results.table import gather

    out = results_dir(args) / "report" / "plots"
    files = all_plots(gather(results_dir(args)), out)
    print(f"wrote {len(files)} plot files to {out}")


def cmd_notebook(args) -> None:
    from ..analysis.notebook import execute

    out = execute(args.notebook, paths.results_dir() / "report" / args.notebook.name, home=paths.home())
    print(f"executed {args.notebook} -> {out}")


def register(sub) -> None:
    rp = sub.add_parser("report", help="plots, tables and the HTML report from the sweep results")
    rp.add_argument("--qps", choices=("qps_single", "qps_batch_1t", "qps_batch_nt"), default="qps_single",
                    help="which QPS the tables rank by (default %(default)s: one request at a time, 1 thread)")
    add_results_option(rp)
    rp.set_defaults(func=cmd_report)
    pp = sub.add_parser("plots", help="only the plots")
    add_results_option(pp)
    pp.set_defaults(func=cmd_plots)
    nbp = sub.add_parser("notebook", help="execute the trade-off notebook headless on the results")
    nbp.add_argument("--notebook", type=Path, default=Path(__file__).resolve().parents[2] / "notebooks" / "tradeoffs.ipynb")
    nbp.set_defaults(func=cmd_notebook)
