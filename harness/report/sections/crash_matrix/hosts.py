"""Which machines ran the trials, and whether their throughput may be compared.

A trial's throughput and latency are those of the machine it ran on. A run spread over a
cluster compares them across machines only when the hosts are alike by their probes (same CPU
model and count, kernel and filesystem type, fsync rates within FSYNC_TOLERANCE of each other);
otherwise the report says how they differ and shows throughput per host. Trials whose load
overlapped on one host (several workers on one machine) shared its CPU and disk: said too.
Pure: environment.json and the typed trials frame in, blocks out.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness.report import fmt
from harness.report.section import Paragraphs, Section, Table

FSYNC_TOLERANCE = 0.25  # fsync rates this close (relative to the fastest) count as one disk's, given probe noise


@dataclass(frozen=True)
class Host:
    name: str
    cpu_model: str
    cpu_count: str
    kernel: str
    filesystem: str  # the type only: "ext4" (mount points differ between machines by design)
    fsyncs_per_s: float | None
    trials: int


def _facts_by_name(environment: dict) -> dict[str, dict]:
    listed = [h for h in environment.get("hosts") or [] if isinstance(h, dict)]
    if not listed and environment.get("host"):  # a run from before hosts were listed: its own machine
        listed = [environment]
    return {str(h.get("host")): h for h in listed}


def _fsync_rate(facts: dict) -> float | None:
    probe = facts.get("disk_fsync")
    rate = probe.get("fsyncs_per_s") if isinstance(probe, dict) else None
    return None if fmt.is_missing(rate) else float(rate)


def hosts_of(environment: dict, trials: pd.DataFrame) -> list[Host]:
    """Every host that ran a trial, as first seen in trials.csv, with its facts from environment.json."""
    facts = _facts_by_name(environment or {})
    counts = trials["host"].astype(str).value_counts(sort=False) if len(trials) else pd.Series(dtype=int)
    hosts = []
    for name in dict.fromkeys(trials["host"].astype(str)) if len(trials) else []:
        f = facts.get(name, {})
        hosts.append(Host(name, fmt.text(f.get("cpu_model")) or "", fmt.plain(f.get("cpu_count")) if
                          not fmt.is_missing(f.get("cpu_count")) else "", fmt.text(f.get("kernel")) or "",
                          (fmt.text(f.get("filesystem")) or "").split(" ")[0], _fsync_rate(f), int(counts[name])))
    return hosts


def differences(hosts: list[Host]) -> list[str]:
    """How the hosts differ by their probes ([] : alike). A fact no host recorded is not a difference."""
    found = []
    for label, attribute in (("CPU", "cpu_model"), ("CPU count", "cpu_count"), ("kernel", "kernel"),
                             ("filesystem", "filesystem")):
        values = {getattr(h, attribute) for h in hosts}
        if len(values) > 1:
            found.append(f"{label}: " + ", ".join(f"`{getattr(h, attribute) or '?'}` on `{h.name}`" for h in hosts))
    rates = [h.fsyncs_per_s for h in hosts]
    if any(r is None for r in rates) and not all(r is None for r in rates):
        found.append("fsync rate: not probed on every host")
    elif all(r is not None for r in rates) and rates and min(rates) < (1 - FSYNC_TOLERANCE) * max(rates):
        found.append("fsync rate: " + ", ".join(f"{fmt.rate(h.fsyncs_per_s)}/s on `{h.name}`" for h in hosts))
    return found


def overlapping(trials: pd.DataFrame) -> dict[str, int]:
    """Per host, how many trials ran their load (load start to ready) while another trial's did there."""
    found: dict[str, int] = {}
    if not len(trials):
        return found
    # A frame of its own: the trials frame is wide and built column by column (assigning to it warns).
    loads = pd.DataFrame({"host": trials["host"].astype(str), "start": trials["load_start_ns"],
                          "end": trials[["ready_ns", "fault_ns", "load_start_ns"]].max(axis=1)})
    for host, group in loads.groupby("host", sort=False):
        spans = [(int(s), int(e)) for s, e in zip(group["start"], group["end"]) if s > 0]
        overlap = sum(1 for i, (s, e) in enumerate(spans)
                      if any(j != i and s < e2 and s2 < e for j, (s2, e2) in enumerate(spans)))
        if overlap:
            found[host] = overlap
    return found


def _hosts_table(hosts: list[Host]) -> Table:
    rows = [[h.name, h.cpu_model or fmt.DASH, h.cpu_count or fmt.DASH, h.kernel or fmt.DASH, h.filesystem or fmt.DASH,
             fmt.rate(h.fsyncs_per_s) if h.fsyncs_per_s is not None else fmt.DASH, fmt.count(h.trials)] for h in hosts]
    return Table(["Host", "CPU", "CPUs", "Kernel", "Filesystem", "fsyncs/s", "Trials"], rows,
                 [False, False, True, False, False, True, True])


def per_host_table(trials: pd.DataFrame) -> Table:
    """Throughput and latency per (config, fault, host): what can be compared when hosts differ."""
    rows = []
    for (config, fault, host), group in trials.groupby(["config", "fault", trials["host"].astype(str)], sort=False):
        rows.append([str(config), str(fault), str(host), fmt.count(len(group)),
                     fmt.rate(group["throughput_ops_s"].median()), fmt.ms(group["p99_ms"].median()),
                     fmt.seconds(group["recovery_s"].median())])
    return Table(["Config", "Fault", "Host", "Trials", "Throughput (ops/s)", "p99 (ms)", "Recovery (s)"], rows,
                 [False, False, False, True, True, True, True])


def _executor_sentence(environment: dict, trials: pd.DataFrame, hosts: list[Host]) -> str:
    executor = environment.get("executor") if isinstance(environment.get("executor"), dict) else {}
    on = f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}"
    if executor.get("kind") == "dask":
        workers = executor.get("workers") or []
        return (f"{fmt.count(len(trials))} trials ran through the Dask cluster at `{executor.get('scheduler')}` "
                f"({len(workers)} worker{'s' if len(workers) != 1 else ''} at the start, one trial per worker at a "
                f"time), on {on}:")
    return f"{fmt.count(len(trials))} trials ran on {on}:"


def comparison_notes(environment: dict, trials: pd.DataFrame) -> list[str]:
    """What the summary's throughput comparison rests on, when more than one host, or one host
    running trials side by side, is involved; [] for a plain one-machine run."""
    hosts = hosts_of(environment, trials)
    notes = []
    if len(hosts) > 1:
        diffs = differences(hosts)
        names = ", ".join(f"`{h.name}`" for h in hosts)
        notes.append(f"**The hosts differ** ({'; '.join(diffs)}): throughput and latency above mix machines; compare "
                     "configs within one host (Hosts, below)." if diffs else
                     f"Trials ran on {len(hosts)} hosts ({names}), alike by their probes (CPU, CPU count, kernel, "
                     f"filesystem, fsync rates within {FSYNC_TOLERANCE:.0%}): their throughput is compared as one "
                     "machine's.")
    for host, count in overlapping(trials).items():
        notes.append(f"On `{host}`, {fmt.count(count)} trials ran their load while another trial loaded the same "
                     "machine (several workers on one host): they shared its CPU and disk, so their throughput and "
                     "latency are not what one trial alone gets there.")
    return notes


def hosts_section(environment: dict, trials: pd.DataFrame) -> Section | None:
    """The Hosts section: a cluster run, or a run whose trials came from more than one machine."""
    hosts = hosts_of(environment or {}, trials)
    if len(hosts) <= 1 and not (environment or {}).get("executor"):
        return None
    blocks: list = [Paragraphs([_executor_sentence(environment, trials, hosts)]), _hosts_table(hosts)]
    if len(hosts) > 1 and differences(hosts):
        blocks += [Paragraphs(["Throughput and latency per host (medians):"]), per_host_table(trials)]
    return Section("Hosts", blocks, anchor="hosts")  # what the comparison rests on is said under the summary
