#!/usr/bin/env python3
"""make bench's report: reads what benchmarks/bench.sh collected in WORK (graph-*.json from
weft-bench graph, e2e-*.json from benchmarks/e2e.sh --json, meta) and writes DEST (markdown) with
PNG plots (gnuplot) in DEST without .md. Prints a short summary. Nothing here measures anything:
every figure comes from the collected files.

Usage: report.py WORK DEST
"""
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def median_of(runs, key):
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def graph_row(data):
    """Median path clocks, ns, Mpps, allocations per packet and per-node clocks of one graph call."""
    if "error" in data:
        return {"error": data["error"]}
    runs = data["runs"]
    nodes = {}
    for run in runs:
        for n in run.get("nodes", []):
            nodes.setdefault(n["node"], []).append(n["clocksPerPacket"])
    return {
        "setup": data.get("setup", ""),
        "path": median_of(runs, "pathClocksPerPacket"),
        "total": median_of(runs, "clocksPerPacket"),
        "ns": median_of(runs, "nsPerPacket"),
        "mpps": median_of(runs, "mpps"),
        "allocs": max(r.get("allocationsPerPacket", 0) for r in runs),
        "nodes": {k: statistics.median(v) for k, v in nodes.items()},
        "pathNodes": data.get("pathNodes", []),
    }


def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def gnuplot(script, out_png):
    if not shutil.which("gnuplot"):
        return False
    p = subprocess.run(["gnuplot"], input=script.encode(), capture_output=True)
    return p.returncode == 0 and os.path.exists(out_png)


def main(work, dest):
    meta = {}
    if os.path.exists(f"{work}/meta"):
        for line in open(f"{work}/meta"):
            k, _, v = line.strip().partition("=")
            meta[k] = v
    plots = dest[:-3] if dest.endswith(".md") else dest + "-plots"
    os.makedirs(plots, exist_ok=True)
    rel = os.path.basename(plots)
    out, summary = [], []
    out.append(f"# make bench, {meta.get('started', '?')}")
    out.append("")
    out.append(f"{meta.get('machine', '')}. Load average before {meta.get('load_before', '?')}, after "
               f"{meta.get('load_after', '?')} (other work on the machine skews every figure). "
               f"Elapsed {meta.get('elapsed_s', '?')} s.{' QUICK run: not for quoting.' if meta.get('quick') == '1' else ''}")
    out.append("")

    # 1. graph scenarios
    scen = sorted(glob.glob(f"{work}/graph-scenario-*.json"))
    if scen:
        out += ["## Graph scenarios (weft-bench graph, one core, no I/O, median of runs)", "",
                "| scenario | setup | path clocks/pkt | all nodes clocks/pkt | ns/pkt | Mpps | allocations/pkt |",
                "|---|---|---:|---:|---:|---:|---:|"]
        details = []
        for path in scen:
            name = os.path.basename(path)[len("graph-scenario-"):-5]
            row = graph_row(load(path))
            if "error" in row:
                out.append(f"| {name} | not available: {row['error']} | | | | | |")
                continue
            out.append(f"| {name} | {row['setup']} | {fmt(row['path'])} | {fmt(row['total'])} | {fmt(row['ns'])} "
                       f"| {fmt(row['mpps'], 2)} | {row['allocs']:.6f} |")
            details.append(f"- {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in row["nodes"].items()))
            summary.append(f"graph {name}: {fmt(row['path'])} clocks/packet on its path, {row['allocs']:.6f} allocations/packet")
        out += ["", "Per-node clocks per packet (median):", ""] + details + [""]

    # 2. sweeps
    sweeps = {"vector": ("l2: vector size", "packets per vector"), "macs": ("l2: learned MACs", "MACs"),
              "routes": ("ip4: FIB routes", "routes"), "sessions": ("nat44: sessions", "sessions")}
    for key, (title, xlabel) in sweeps.items():
        files = glob.glob(f"{work}/graph-sweep-{key}-*.json")
        if not files:
            continue
        points = []
        for path in files:
            x = int(os.path.basename(path)[len(f"graph-sweep-{key}-"):-5])
            points.append((x, graph_row(load(path))))
        points.sort()
        out += [f"## Sweep: {title}", "", f"| {xlabel} | path clocks/pkt | ns/pkt | Mpps | allocations/pkt |",
                "|---:|---:|---:|---:|---:|"]
        dat = f"{plots}/sweep-{key}.dat"
        with open(dat, "w") as f:
            for x, row in points:
                if "error" in row:
                    out.append(f"| {x} | not available: {row['error']} | | | |")
                    continue
                out.append(f"| {x} | {fmt(row['path'])} | {fmt(row['ns'])} | {fmt(row['mpps'], 2)} | {row['allocs']:.6f} |")
                f.write(f"{x} {row['path']}\n")
        png = f"{plots}/sweep-{key}.png"
        if gnuplot(f"""set terminal pngcairo size 640,360 noenhanced
set output '{png}'
set logscale x
set xlabel '{xlabel}'
set ylabel 'clocks per packet (path)'
set yrange [0:*]
set grid
plot '{dat}' using 1:2 with linespoints title '{title}'
""", png):
            out += ["", f"![{title}]({rel}/sweep-{key}.png)"]
        out.append("")

    # 3. e2e
    # The L2 run (e2e.json) first, then the other modes.
    e2e_files = sorted(glob.glob(f"{work}/e2e*.json"), key=lambda p: (not p.endswith("/e2e.json"), p))
    if e2e_files:
        out += ["## End to end (benchmarks/e2e.sh; every mode with --ndr --latency)", ""]
        rows = []
        for path in e2e_files:
            data = load(path)
            if isinstance(data, dict) and "error" in data:
                out.append(f"- {os.path.basename(path)}: {data['error']}")
                continue
            mode = data.get("mode", "l2") if isinstance(data, dict) else "l2"
            for r in (data if isinstance(data, list) else data.get("rows", [])):
                rows.append({"mode": mode, **r})
        if rows:
            # One table per mode: each has its own reference peer (testpmd for l2, the kernel
            # elsewhere), hence its own ratio columns.
            modes = []
            for r in rows:
                if r["mode"] not in modes:
                    modes.append(r["mode"])
            for mode in modes:
                sel = [r for r in rows if r["mode"] == mode]
                keys = []
                for r in sel:
                    for k in r:
                        if k not in keys and k != "mode":
                            keys.append(k)
                out += [f"### {mode}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
                for r in sel:
                    out.append("| " + " | ".join(fmt(r.get(k), 2) for k in keys) + " |")
                out.append("")
            # Throughput and NDR by datapath, one group per frame size.
            groups = []
            for r in rows:
                if (r.get("mode"), r.get("frame")) not in groups:
                    groups.append((r.get("mode"), r.get("frame")))
            for mode, frame in groups:
                sel = [r for r in rows if (r.get("mode"), r.get("frame")) == (mode, frame)
                       and isinstance(r.get("max_pps"), (int, float))]
                if not sel:
                    continue
                frame = frame if mode == "l2" else f"{mode}-{frame}"
                dat = f"{plots}/e2e-{frame}.dat"
                with open(dat, "w") as f:
                    for r in sel:
                        ndr = r.get("ndr_pps") if isinstance(r.get("ndr_pps"), (int, float)) else 0
                        f.write(f"\"{r['datapath']}\" {r['max_pps'] / 1000:.1f} {ndr / 1000:.1f}\n")
                png = f"{plots}/e2e-{frame}.png"
                if gnuplot(f"""set terminal pngcairo size 720,360 noenhanced
set output '{png}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'thousand frames/s'
set yrange [0:*]
set grid ytics
set title '{mode} forwarding, frame {frame}'
plot '{dat}' using 2:xtic(1) title 'max throughput', '' using 3 title 'NDR (0 loss)'
""", png):
                    out += [f"![e2e {frame}]({rel}/e2e-{frame}.png)", ""]
            for r in rows:
                ratio = next(((k[len("ratio_vs_"):], r[k]) for k in r if k.startswith("ratio_vs_")), None)
                if r.get("datapath") and isinstance(r.get("max_pps"), (int, float)):
                    text = f"e2e {r.get('mode')} {r.get('frame')} {r['datapath']}: max {fmt(r.get('max_pps'), 0)} pps"
                    if isinstance(r.get("ndr_pps"), (int, float)):
                        text += f", NDR {fmt(r.get('ndr_pps'), 0)} pps"
                    if ratio and isinstance(ratio[1], (int, float)):
                        text += f", x{ratio[1]:.2f} {ratio[0]}"
                    summary.append(text)
        for path in sorted(glob.glob(f"{work}/e2e*.md")):
            text = open(path).read().strip()
            if text:
                out += [f"<details><summary>e2e.sh output, {os.path.basename(path)}</summary>", "", text, "", "</details>", ""]

    with open(dest, "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(["make bench summary:"] + ["  " + s for s in summary] + [f"  report: {dest}"]))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
