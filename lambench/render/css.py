"""The style sheet of the report's self-contained ``index.html`` (inlined, nothing fetched)."""

from __future__ import annotations

__all__ = ["REPORT_CSS"]

REPORT_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1b1f24;
background:#fff;line-height:1.45}
main{max-width:1440px;margin:0 auto;padding:1.5rem}
h1{font-size:1.7rem;margin:.2rem 0 1rem}h2{font-size:1.3rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1.05rem}
.intro{background:#f6f8fa;border-left:4px solid #0969da;padding:.6rem .9rem}
.notes{background:#fff8c5;border-left:4px solid #d4a72c;padding:.4rem .9rem .4rem 2rem}
.runs{font-size:.9rem;color:#57606a}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:.9rem;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:right;white-space:nowrap}
th{background:#f6f8fa}td.agent,th.agent{text-align:left}tbody tr:nth-child(even){background:#fafbfc}
figure{margin:1.2rem 0}img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-size:.9rem;color:#57606a;max-width:900px}
code{background:#f6f8fa;padding:0 .2rem;border-radius:3px}
dt{font-weight:600}dd{margin:0 0 .5rem 1.2rem}
footer{margin-top:2rem;font-size:.8rem;color:#57606a}
"""
