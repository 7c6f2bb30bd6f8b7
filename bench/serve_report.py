#!/usr/bin/env python3
"""Turn bench/serve.sh's raw results into the "serve" section of bench/RESULTS.md.

    serve_report.py RESULTS_TSV META_TSV SECTION_OUT [RESULTS_MD]

RESULTS_TSV: lines "round<TAB>contender<TAB>metric<TAB>value".
META_TSV:    lines "key<TAB>value" (date, machine, versions, command, settings).
Writes the section to SECTION_OUT; with RESULTS_MD, replaces the text from a line that is exactly
"## serve" up to the next "## " heading (or the end), or appends the section when there is none.
"""
import collections
import os
import re
import statistics
import sys

CONTENDERS = ["direct", "swproxy", "swproxy-b", "tinyproxy", "squid"]
LABEL = {"direct": "direct to nginx", "swproxy": "swproxy (A)", "swproxy-b": "swproxy (B)", "tinyproxy": "tinyproxy",
         "squid": "squid"}
PEERS = ["tinyproxy", "squid"]


def load(path):
    rows = collections.defaultdict(list)  # (contender, metric) -> [values]
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 4:
            continue
        _, who, metric, value = parts
        try:
            rows[(who, metric)].append(float(value))
        except ValueError:
            pass
    return rows


def fmt(v, kind):
    if v is None:
        return "—"
    if kind == "int":
        return f"{v:,.0f}"
    if kind == "ms":
        return f"{v:.2f}" if v < 10 else f"{v:.1f}"
    if kind == "f3":
        return f"{v:.3f}"
    return f"{v:,.1f}"


def main():
    results_tsv, meta_tsv, section_out = sys.argv[1:4]
    results_md = sys.argv[4] if len(sys.argv) > 4 else None
    rows = load(results_tsv)
    meta = {}
    for line in open(meta_tsv):
        if "\t" in line:
            k, v = line.rstrip("\n").split("\t", 1)
            meta[k] = v
    present = [c for c in CONTENDERS if any(k[0] == c for k in rows) or c in meta.get("contenders", "").split()]
    conns = meta.get("conns", "50 200").split()
    idle = meta.get("idle_conns", "10000")

    # (metric key, label, "hi"/"lo" = which way is better, format, aggregate)
    metrics = []
    for c in conns:
        metrics += [
            (f"rps_{c}", f"requests/s, {c} conns", "hi", "int", "median"),
            (f"p50_{c}", f"p50 latency ms, {c} conns", "lo", "ms", "median"),
            (f"p99_{c}", f"p99 latency ms, {c} conns", "lo", "ms", "median"),
            (f"cpu_{c}", f"proxy CPU s per 100k requests, {c} conns", "lo", "f3", "median"),
        ]
    first = conns[0] if conns else "50"
    for key, what in ((f"close_{first}", f"{first} conns, Connection: close"),
                      (f"mixed_{first}", f"{first} conns, mixed 1 KiB–1 MiB")):
        metrics += [
            (f"rps_{key}", f"requests/s, {what}", "hi", "int", "median"),
            (f"p50_{key}", f"p50 latency ms, {what}", "lo", "ms", "median"),
            (f"p99_{key}", f"p99 latency ms, {what}", "lo", "ms", "median"),
            (f"cpu_{key}", f"proxy CPU s per 100k requests, {what}", "lo", "f3", "median"),
        ]
    metrics += [(f"mbps_mixed_{first}", f"MB/s (10⁶ B/s), {first} conns, mixed 1 KiB–1 MiB", "hi", "f1", "median")]
    metrics += [
        ("mbps", "100 MiB download, MB/s (10⁶ B/s)", "hi", "f1", "median"),
        ("rss_start", "RSS at start, MiB", "lo", "f1", "median"),
        ("rss_dl_peak", "peak RSS (VmHWM) over the 100 MiB download, MiB", "lo", "f1", "median"),
        ("idle_rss", f"RSS holding {idle} idle keep-alive conns, MiB", "lo", "f1", "median"),
        ("idle_held", f"idle conns still open after 1 s (of {idle})", "hi", "int", "median"),
        ("idle_kib_per_conn", "RSS growth per idle conn held, KiB", "lo", "f1", "median"),
    ]
    totals = [
        ("wrk_non2xx", "wrk non-2xx/3xx responses (all runs)"),
        ("wrk_readerr", "wrk socket read errors (all runs; a proxy closing after each response counts here)"),
        ("wrk_sockerr", "wrk socket errors: connect + write + timeout (all runs)"),
        ("idle_failed", "idle client: connections without a response (all rounds)"),
    ]

    def med(who, key):
        vals = rows.get((who, key))
        return statistics.median(vals) if vals else None

    idle_n = float(idle)

    def held(who):
        v = med(who, "idle_held")
        return v if v is not None else 0.0

    show_direct = "swproxy" in present and "direct" in present
    peers_present = [p for p in PEERS if p in present]
    ab = "swproxy" in present and "swproxy-b" in present
    if not ab:
        LABEL["swproxy"] = "swproxy"
    head = ["metric", "better"] + [LABEL[c] for c in present]
    if ab:
        head.append("B ÷ A")
    if "swproxy" in present:
        if show_direct:
            head.append("swproxy ÷ direct")
        if peers_present:
            head.append("swproxy ÷ best peer")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, better, kind, _ in metrics:
        vals = {c: med(c, key) for c in present}
        if all(v is None for v in vals.values()):
            continue
        cells = [label, "↑" if better == "hi" else "↓"]
        for c in present:
            cell = fmt(vals[c], kind)
            if key == "idle_rss" and vals[c] is not None and held(c) < idle_n:
                cell += f" (holding {fmt(held(c), 'int')})"
            cells.append(cell)
        if ab:
            a_, b_ = vals["swproxy"], vals["swproxy-b"]
            cells.append(f"{b_ / a_:.3f}×" if a_ and b_ is not None else "—")
        if "swproxy" in present:
            s = vals["swproxy"]
            if show_direct:
                d = vals["direct"]
                cells.append(f"{s / d:.2f}×" if s is not None and d else "—")
            if peers_present:
                # Memory while idle only compares with a peer that held (nearly) as many connections.
                eligible = [p for p in peers_present
                            if not key.startswith("idle_") or key == "idle_held" or held(p) >= 0.9 * idle_n]
                cand = [(vals[p], p) for p in eligible if vals[p] is not None]
                if s is None or not cand:
                    cells.append("— (no peer held them)" if key.startswith("idle_") and s is not None else "—")
                else:
                    v, p = (max if better == "hi" else min)(cand)
                    cells.append(f"{s / v:.2f}× ({p})" if v else f"— ({p}: 0)")
        lines.append("| " + " | ".join(cells) + " |")
    for key, label in totals:
        vals = {c: rows.get((c, key)) for c in present}
        if all(not v for v in vals.values()):
            continue
        cells = [label, "↓"] + [fmt(sum(vals[c]), "int") if vals[c] else "—" for c in present]
        if "swproxy" in present:
            cells += [""] * ((1 if show_direct else 0) + (1 if peers_present else 0) + (1 if ab else 0))
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)

    notes = []
    for who in present:
        for k, v in sorted(meta.items()):
            if k == f"note_{who}" or k.startswith(f"note_{who}_"):
                notes.append(f"- {LABEL[who]}: {v}")
    for k, v in sorted(meta.items()):
        if k.startswith("note_run"):
            notes.append(f"- {v}")

    title = meta.get("title", "serve A/B") if ab else "serve"
    out = []
    out.append(f"## {title}")
    out.append("")
    out.append(f"`{meta.get('command', 'bash bench/serve.sh')}` on {meta.get('date', '?')}: "
               f"{meta.get('machine', '?')}.")
    out.append("")
    out.append(f"Versions: {meta.get('versions', '?')}.")
    out.append("")
    out.append(meta.get("method", ""))
    out.append("")
    out.append(table)
    out.append("")
    out.append("Configuration of the contenders:")
    out.append("")
    out.extend(notes)
    out.append("")
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    with open(section_out, "w") as f:
        f.write(text)

    if results_md:
        doc = open(results_md).read() if os.path.exists(results_md) else "# Benchmark results\n\n"
        pattern = re.compile(r"^## " + re.escape(title) + r"[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
        if pattern.search(doc):
            doc = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", doc, count=1)
            doc = doc.rstrip("\n") + "\n"
        else:
            doc = doc.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
        with open(results_md, "w") as f:
            f.write(doc)


if __name__ == "__main__":
    main()
