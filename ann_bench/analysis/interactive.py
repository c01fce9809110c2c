"""The report's interactive recall-vs-speed charts (Plotly, self-contained in the HTML page).

Hovering a point shows its algorithm, build and query parameters, recall, speed, p99 latency,
build time and memory; clicking a legend entry hides that algorithm (its points and frontier
together); dragging zooms, double-clicking resets. The same data and frontiers as the static
PNG/SVG plots (:mod:`.plots`), which stay for the README. plotly.js is written once into the
page, so the report opens offline.
"""

from __future__ import annotations

import html

import pandas as pd

from .pareto import frontier

_HOVER = ("build_params", "query_params", "latency_p99_ms", "build_s", "index_mb")


def _rgb(color) -> str:
    r, g, b = (int(round(255 * c)) for c in color[:3])
    return f"rgb({r},{g},{b})"


def _hover_values(d: pd.DataFrame, cols: list[str]):
    """The hover columns as short text (3 significant digits for numbers)."""
    def text(v):
        return "" if pd.isna(v) else f"{v:.3g}" if isinstance(v, float) else str(v)
    return d[cols].map(text).to_numpy()


def figure(d: pd.DataFrame, x: str, y: str, style: dict, *, title: str, ylabel: str, reference: float | None = None):
    """One workload's ``y`` against ``x``: every point of each algorithm (faint) and its frontier."""
    import plotly.graph_objects as go

    fig = go.Figure()
    hover_cols = [c for c in _HOVER if c in d]
    template = ("<b>%{fullData.legendgroup}</b><br>" + "<br>".join(f"{c}: %{{customdata[{i}]}}" for i, c in enumerate(hover_cols))
                + f"<br>{x}: %{{x:.4f}}<br>{y}: %{{y:,.4g}}<extra></extra>")
    for alg, g in d.groupby("algorithm", sort=True):
        color = _rgb(style[alg]["color"])
        custom = _hover_values(g, hover_cols)
        fig.add_trace(go.Scatter(x=g[x], y=g[y], mode="markers", name=alg, legendgroup=alg, showlegend=False,
                                 marker={"color": color, "size": 6, "opacity": 0.3}, customdata=custom,
                                 hovertemplate=template))
        f = frontier(g, x, y)
        fc = _hover_values(f, hover_cols)
        fig.add_trace(go.Scatter(x=f[x], y=f[y], mode="lines+markers", name=alg, legendgroup=alg,
                                 line={"color": color, "width": 2}, marker={"color": color, "size": 7},
                                 customdata=fc, hovertemplate=template))
    if reference is not None and pd.notna(reference):
        fig.add_hline(y=reference, line={"dash": "dash", "color": "grey"}, annotation_text="exact search")
    fig.update_yaxes(type="log", title=ylabel)
    fig.update_xaxes(title=x.replace("recall@", "Recall@"))
    fig.update_layout(title={"text": html.escape(title), "font": {"size": 13}}, height=520, margin={"l": 60, "r": 20, "t": 60, "b": 50},
                      legend={"font": {"size": 11}}, hovermode="closest")
    return fig


def to_html(fig, div_id: str, *, first: bool) -> str:
    """The figure as an HTML fragment; ``first`` carries plotly.js itself (inline, for offline use)."""
    import plotly.io as pio

    return pio.to_html(fig, include_plotlyjs=True if first else False, full_html=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
