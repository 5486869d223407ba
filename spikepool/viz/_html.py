"""What the HTML reports share: figures embedded as PNG, tables."""

from __future__ import annotations

import base64
import html
import io
import zlib

__all__ = ["MAX_TABLE_ROWS", "_figure", "_figures", "_png", "_table"]

#: Tables longer than this are shown in a scrolling box with a filter field (``_table``).
MAX_TABLE_ROWS = 60


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(draw, caption: str, size=(8, 5)) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, layout="constrained")
    draw(ax)
    text = html.escape(caption)
    image = f'<img alt="{text}" src="data:image/png;base64,{_png(fig)}">'
    return f"<figure>{image}<figcaption>{text}</figcaption></figure>"


def _table(df, digits: int = 3) -> str:
    """``df`` as an HTML table; beyond ``MAX_TABLE_ROWS`` rows, in a scrolling box with a field that keeps the
    rows containing what is typed (a unit's name, a condition): a thousand units stay one page."""
    long = len(df) > MAX_TABLE_ROWS
    # a filterable table names every row's unit and condition (no rowspan): a kept row keeps its labels
    table = df.to_html(float_format=lambda x: f"{x:.{digits}g}", border=0, na_rep="-", sparsify=not long)
    if not long:
        return table
    key = f"t{zlib.crc32(repr((list(df.columns), len(df), str(df.index[0]))).encode()):08x}"
    script = (
        "var q=this.value.toLowerCase();"
        f"document.querySelectorAll('#{key} tbody tr').forEach(function(r)"
        "{r.style.display=r.textContent.toLowerCase().indexOf(q)>-1?'':'none'})"
    )
    return (
        f'<p class="note">{len(df):,} rows; type to keep the rows that contain it: '
        f'<input type="search" placeholder="unit or condition" oninput="{script}"></p>'
        f'<div id="{key}" style="max-height:28em;overflow-y:auto">{table}</div>'
    )


def _figures(draw, n: int, caption: str, panel=(5.5, 3.4), ncols: int = 2) -> str:
    """One figure of ``n`` panels, ``draw(ax, k)`` for panel ``k`` (unused axes hidden)."""
    import matplotlib.pyplot as plt

    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained", squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        if k < n:
            draw(ax, k)
        else:
            ax.set_visible(False)
    text = html.escape(caption)
    return f'<figure><img alt="{text}" src="data:image/png;base64,{_png(fig)}"><figcaption>{text}</figcaption></figure>'
