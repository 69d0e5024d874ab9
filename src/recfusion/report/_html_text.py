"""Fixed text of the HTML page: the style sheet and the metric conventions."""

from __future__ import annotations

CSS = """
:root { --ink: #1d2430; --muted: #5b6575; --line: #dde2ea; --soft: #f5f7fa;
  --accent: #2456a6; --best: #e3f3e6; --best-ink: #115c26; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 64px; }
header.top { border-bottom: 3px solid var(--accent); margin-bottom: 18px; }
h1 { font-size: 26px; margin: 6px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
p.lead, .muted { color: var(--muted); }
nav.toc { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 8px 0 16px; font-size: 14px; }
nav.toc a { color: var(--accent); text-decoration: none; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 12px; }
.card { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 14px; }
.card .k { font-size: 12px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); }
.card .v { font-size: 20px; font-weight: 650; overflow-wrap: anywhere; }
.card .d { font-size: 13px; color: var(--muted); }
.headline { font-size: 16px; background: #eef4ff; border-left: 4px solid var(--accent);
  padding: 10px 14px; border-radius: 4px; margin: 14px 0; }
.table-wrap { overflow-x: auto; margin: 10px 0 18px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0 6px;
  color: var(--ink); white-space: nowrap; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--soft); text-align: center; border-bottom: 2px solid #c5ccd8;
  min-width: 64px; }
thead th.name { white-space: normal; }
thead .badge { display: block; width: fit-content; margin: 2px auto 0; }
th.grp, td.grp { border-left: 1px solid #c5ccd8; }
thead th.k { font-weight: 500; color: var(--muted); }
tbody tr:nth-child(even) { background: #fafbfd; }
tbody tr:hover { background: #f0f4fb; }
th.name, td.name { text-align: left; white-space: nowrap; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
td.best { background: var(--best); color: var(--best-ink); font-weight: 700; }
td.missing { color: #a0a8b5; text-align: center; }
td.yes { color: var(--best-ink); font-weight: 600; }
td.no { color: var(--muted); }
tr.self td { color: var(--muted); font-style: italic; }
.pm { display: block; font-size: 11px; font-weight: 400; color: var(--muted); }
td.best .pm { color: var(--best-ink); }
.badge { display: inline-block; font-size: 10px; font-weight: 600; padding: 1px 6px;
  border-radius: 8px; vertical-align: middle; margin-left: 4px; }
.badge.ext { background: #fff1db; color: #8a4b00; border: 1px solid #f0c98a; }
.badge.fused { background: #e6ecfa; color: #22428a; border: 1px solid #b9c8ee; }
figure { margin: 18px 0 26px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 4px; max-width: 900px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; overflow-x: auto; font-size: 12px; }
dl.conv dt { font-weight: 650; margin-top: 8px; }
dl.conv dd { margin: 2px 0 0 18px; color: #333c4a; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
"""

#: (term, explanation) pairs printed in the conventions section.
CONVENTIONS = (
    ("Evaluated users", "Every figure is a mean over the users with at least one held-out "
     "item; segment rows use the same definition within the segment."),
    ("Confidence intervals", "95% percentile bootstrap over users. Tables show the value and "
     "± half the interval width; hover a value for the exact bounds, which are also in "
     "benchmark_report.csv. Aggregate metrics (coverage, personalisation, Gini) have no interval."),
    ("Relevance", "Binary: an item is relevant when it is among the user's held-out items; "
     "a repeated item counts once."),
    ("Recall@k, Precision@k, Hit rate@k", "Hits in the first k slots divided by the number "
     "of held-out items (recall) or by k (precision); hit rate is 1 when any hit occurs."),
    ("NDCG@k", "Discounted gain 1/log2(position + 1) of the hits, divided by the best gain "
     "possible with the user's held-out items cut at k."),
    ("MRR@k, MAP@k", "Reciprocal rank of the first hit (0 without a hit); average precision "
     "over the hit positions divided by min(k, number of held-out items)."),
    ("Coverage", "Share of catalogue items that appear in at least one user's list."),
    ("Diversity", "Mean dissimilarity of the item pairs within a list: 1 − Jaccard of "
     "categories, or 1 − cosine of item embeddings."),
    ("Novelty", "Mean self-information −log2(share of training users who saw the item) of "
     "the recommended items, in bits; higher means less familiar items."),
    ("Personalisation", "1 − mean similarity between the lists of different users; higher "
     "means the lists differ more between users."),
    ("Popularity, Gini, long tail", "Average popularity is the mean share of training users "
     "who interacted with the recommended items; Gini measures how unevenly recommendations "
     "spread over the catalogue (0 = evenly); long-tail share is the share of slots outside "
     "the head, the most popular items that together hold 20% of training interactions (by "
     "default)."),
    ("Cost", "Fit time in wall-clock seconds, latency of a single request in milliseconds "
     "(percentiles), peak memory in megabytes."),
    ("Strategies", "Single recall channels are listed first, then fusion outputs (badge "
     "'fusion'), then external baselines from other libraries (badge 'external', hatched or "
     "dashed in charts), all evaluated on the same split with the same metrics."),
    ("Highlighting", "The best value of each column (↑ higher is better, ↓ lower is better) "
     "is shaded green; descriptive columns without an arrow are not ranked."),
)  # fmt: skip
