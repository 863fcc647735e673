"""Writing a run down: ``results.json``, ``results.md`` (Markdown tables), ``chart.png``, the
table in ``bench/README.md``, and a comparison with an earlier ``results.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

README = Path(__file__).with_name("README.md")
README_START = "<!-- latest results: written by bench/run.py -->"
README_END = "<!-- end of latest results -->"
RUN_LABELS = {"ceiling": "ceiling: bare Starlette route",
              "handout": "token handout",
              "handout_100k": "token handout, 100,000 tokens stored"}


# --- Markdown ---------------------------------------------------------------------------------


def throughput_table(results: dict[str, Any]) -> str:
    rows = ["| backend | what | requests/s | p50 ms | p99 ms | errors / non-2xx | of ceiling |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for backend, figures in results["backends"].items():
        if "skipped" in figures:
            rows.append(f"| {backend} | skipped: {figures['skipped']} | | | | | |")
            continue
        ceiling = (figures.get("ceiling") or {}).get("rps")
        for key, label in RUN_LABELS.items():
            run = figures.get(key)
            if not run:
                continue
            beside = run.get("ceiling_rps") or ceiling  # the ceiling measured beside it
            share = f"{run['rps'] / beside:.0%}" if beside else ""
            rows.append(f"| {backend} | {label} | {run['rps']:,.0f} | {run['p50_ms']:.2f} | "
                        f"{run['p99_ms']:.2f} | {run['errors']} | {share} |")
    return "\n".join(rows)


def targets_table(results: dict[str, Any]) -> str:
    rows = ["| target | backend | measured | result |", "|---|---|---|---|"]
    for target in results["targets"]:
        rows.append(f"| {target['target']} | {target['backend']} | {target['measured']} | "
                    f"**{target['status']}** |")
    return "\n".join(rows)


def details(results: dict[str, Any]) -> str:
    lines: list[str] = []
    for backend, figures in results["backends"].items():
        for key, title in (("storm", "storm, one server"),
                           ("replicas_storm", "storm, two replicas")):
            storm = figures.get(key)
            if storm and "callers" in storm:
                lines.append(
                    f"- {backend}, {title}: {storm['callers']} callers over {storm['replicas']} "
                    f"process(es) in {storm['elapsed_s']} s (p50 {storm['p50_ms']} ms, max "
                    f"{storm['max_ms']} ms); statuses {storm['statuses']}; "
                    f"{storm['token_endpoint_calls']} token endpoint call(s); "
                    f"{storm['callers_with_new_token']} got the new token.")
        memory = figures.get("memory")
        if memory:
            lines.append(f"- {backend}, server memory: {_memory_line(memory)}")
        stored = figures.get("stored")
        if stored and "tokens_in_db" in stored:
            lines.append(f"- {backend}, stored tokens: {stored['tokens_in_db']:,} rows "
                         f"(written in {stored['insert_s']} s).")
        refresher = figures.get("refresher")
        if refresher and "tokens" in refresher:
            lines.append(
                f"- {backend}, background refresher: {refresher['tokens']:,} tokens on "
                f"{refresher['connections']} connections, lifetimes "
                f"{refresher['lifetimes_s'][0]:.0f} to {refresher['lifetimes_s'][1]:.0f} s; "
                f"{refresher['token_endpoint_calls']:,} refreshes in {refresher['observed_s']} s "
                f"({refresher.get('achieved_refreshes_per_s', '?')}/s achieved, at most "
                f"{refresher.get('peak_refreshes_per_s', '?')}/s over 10 s; "
                f"{refresher.get('required_refreshes_per_s', '?')}/s needed); refreshed after "
                f"its moment {refresher.get('refreshed_after_due_s', '?')} s; "
                f"late {refresher['late_refreshes']}, "
                f"never refreshed {refresher['never_refreshed']}, most expired at once "
                f"{refresher['max_expired_in_db']}; {refresher['handouts']} sampled handouts, "
                f"{refresher.get('handouts_that_found_token_due', '?')} found it due, "
                f"{refresher['handouts_that_found_token_expired']} found it expired; peak "
                f"in flight per host {refresher['peak_by_host']}, at the authorization server "
                f"{refresher.get('peak_in_flight_at_server', '?')} (cap "
                f"{refresher['per_host_cap']}).")
    return "\n".join(lines)


def _memory_line(memory: dict[str, Any]) -> str:
    parts = []
    for key, label in (("after_handout", "after the handout load"),
                       ("after_100k", "with 100,000 tokens stored, after the load")):
        if key in memory:
            parts.append(f"{label} RSS {memory[key]['rss_mb']} MB "
                         f"(peak {memory[key]['peak_rss_mb']} MB)")
    return "; ".join(parts) + "."


def profile_section(results: dict[str, Any]) -> str:
    lines: list[str] = []
    for backend, figures in results["backends"].items():
        for key, what in (("profile", "every busy thread (waits for the database included)"),
                          ("profile_gil", "the thread holding the GIL (Python CPU time)")):
            profile = figures.get(key)
            if not profile or "top_self" not in profile:
                continue
            lines.append(f"\n**{backend}, {what}**: {profile['samples']:,} stack samples of "
                         "the serving process during a handout load; shares of all samples.\n")
            lines += _two_columns(("own time, by package", profile["self_by_package"]),
                                  ("own time, by function", profile["top_self"]))
            lines.append("")
            lines += _two_columns(("anywhere on the stack, by package",
                                   profile.get("total_by_package", [])),
                                  ("Tokendesk functions, with callees",
                                   profile.get("tokendesk_total", [])))
    return "\n".join(lines)


def _two_columns(left: tuple[str, list[dict[str, Any]]],
                 right: tuple[str, list[dict[str, Any]]], rows: int = 10) -> list[str]:
    lines = [f"| {left[0]} | share | {right[0]} | share |", "|---|---:|---|---:|"]
    for i in range(min(rows, max(len(left[1]), len(right[1])))):
        a = left[1][i] if i < len(left[1]) else None
        b = right[1][i] if i < len(right[1]) else None
        lines.append(f"| {a['frame'] if a else ''} | {_pct(a['share']) if a else ''} | "
                     f"{'`' + b['frame'] + '`' if b else ''} | {_pct(b['share']) if b else ''} |")
    return lines


def _pct(share: float | None) -> str:
    return "" if share is None else f"{share:.1%}"


def header(results: dict[str, Any]) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    return (f"Run {meta['started_at']} ({meta['mode']}, {meta['duration_s']:.0f} s per load run, "
            f"best of {meta['rounds']}), commit `{meta['commit']}`"
            f"{' + uncommitted changes' if meta.get('dirty') else ''}. "
            f"Load: {meta['generator']} with {meta['connections']} connections, one thread"
            f"{', server pinned to CPU 0 and load to CPU 1' if meta['pinned'] else ''}. "
            f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
            f"Python {machine['python']}, {machine['server']}; before the run other work kept "
            f"{meta.get('busy_cores_before', '?')} cores busy (load average "
            f"{meta['loadavg_before']}).")


def markdown(results: dict[str, Any]) -> str:
    parts = ["# Tokendesk benchmark: latest results", "", header(results), "",
             "## Requests per second", "", throughput_table(results), "",
             "## Targets", "", targets_table(results), "",
             "## Other figures", "", details(results)]
    profile = profile_section(results)
    if profile:
        parts += ["", "## Where the time goes (py-spy, own time)", profile]
    if results.get("notes"):
        parts += ["", "## Notes", "", *[f"- {note}" for note in results["notes"]]]
    return "\n".join(parts) + "\n"


# --- chart ------------------------------------------------------------------------------------


def chart(results: dict[str, Any], path: Path) -> str | None:
    """Requests/s bars, ceiling vs handout per backend; returns why not when it cannot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'); no chart.png"
    backends = [b for b, f in results["backends"].items() if "ceiling" in f]
    if not backends:
        return "no throughput figures; no chart.png"
    keys = [k for k in RUN_LABELS if any(k in results["backends"][b] for b in backends)]
    width = 0.8 / len(keys)
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=110)
    for offset, key in enumerate(keys):
        values = [results["backends"][b].get(key, {}).get("rps", 0) for b in backends]
        xs = [i + (offset - (len(keys) - 1) / 2) * width for i in range(len(backends))]
        bars = axes.bar(xs, values, width, label=RUN_LABELS[key])
        axes.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8, padding=2)
    axes.set_xticks(range(len(backends)), backends)
    axes.set_ylabel("requests/s")
    meta = results["meta"]
    axes.set_title(f"Tokendesk: ceiling vs token handout ({meta['connections']} connections, "
                   f"{meta['generator']})", fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return None


# --- writing ----------------------------------------------------------------------------------


def write_all(results: dict[str, Any], out_dir: Path, *, update_readme: bool) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    problem = chart(results, out_dir / "chart.png")
    if problem:
        results.setdefault("notes", []).append(problem)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = markdown(results)
    (out_dir / "results.md").write_text(text)
    if update_readme and README.exists():
        _update_readme(results)
    return out_dir / "results.md"


def _update_readme(results: dict[str, Any]) -> None:
    readme = README.read_text()
    if README_START not in readme or README_END not in readme:
        return
    before, rest = readme.split(README_START, 1)
    _, after = rest.split(README_END, 1)
    table = "\n".join(["", header(results), "", throughput_table(results), "",
                       targets_table(results), ""])
    README.write_text(before + README_START + "\n" + table + "\n" + README_END + after)


# --- comparing --------------------------------------------------------------------------------


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Throughput and targets of two runs side by side."""
    lines = [f"Compared with the run of {before['meta']['started_at']} "
             f"(commit {before['meta']['commit']}):"]
    for backend, figures in after["backends"].items():
        old = before["backends"].get(backend, {})
        for key, label in RUN_LABELS.items():
            if key in figures and key in old:
                a, b = old[key], figures[key]
                change = (b["rps"] / a["rps"] - 1) if a["rps"] else 0.0
                lines.append(f"  {backend:9} {label:38} {a['rps']:>9,.0f} -> {b['rps']:>9,.0f} "
                             f"req/s ({change:+.0%}); p99 {a['p99_ms']:.1f} -> "
                             f"{b['p99_ms']:.1f} ms")
        if "ratio" in figures and "ratio" in old:
            lines.append(f"  {backend:9} {'handout / ceiling':38} {old['ratio']:>9.0%} -> "
                         f"{figures['ratio']:>9.0%}")
    old_status = {(t["id"], t["backend"]): t["status"] for t in before.get("targets", [])}
    for target in after["targets"]:
        was = old_status.get((target["id"], target["backend"]))
        if was and was != target["status"]:
            lines.append(f"  {target['target']} ({target['backend']}): {was} -> "
                         f"{target['status']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.report BEFORE.json AFTER.json``: compare two runs."""
    import argparse

    parser = argparse.ArgumentParser(description="Compare two bench results.json files.")
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    print(compare(json.loads(args.before.read_text()), json.loads(args.after.read_text())))


if __name__ == "__main__":
    main()
