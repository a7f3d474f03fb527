# SPDX-License-Identifier: BSD-2-Clause
"""Allocation rates as `pyleak top` shows them (--json `alloc`), against the scenario's own counts."""

import json
import time

import pytest

from conftest import extra_interpreters, interpreters, pyleak_json_lines, proc_entry

USDT = interpreters(minors=(), debian=True)
PYENV = interpreters(minors=((3, 12), (3, 13)), debian=False)
EXTRA = extra_interpreters("alloc")  # Debian sid 3.14, 3.15 (USDT, stripped, static)


def _alloc_entries(pid, *args):
    snaps = pyleak_json_lines("top", "-b", "--json", "-d", "1", "-n", "6", "-p", pid, "--no-census", *args,
                              timeout=120)
    return [proc_entry(s, pid)["alloc"] for s in snaps if proc_entry(s, pid) and proc_entry(s, pid)["alloc"]]


@pytest.mark.parametrize("interp", USDT + PYENV + EXTRA, ids=repr)
def test_young_sample_names_the_leaking_type(interp, scenario):
    s = scenario(interp, "alloc_rates.py", "--rate", "3000", "--leak", "--duration", "60")
    s.truth()  # started
    allocs = _alloc_entries(s.pid)
    assert len(allocs) >= 3, allocs
    for a in allocs[1:]:
        assert a["source"] == "young-sample" and a["estimated"] is True
        top = a["types"][0]
        assert top["name"] == "__main__.Alloc", a["types"][:3]
        # The scenario creates and keeps 3000 objects/s: the estimate is within 25%.
        assert 0.75 * 3000 <= top["net_per_s"] <= 1.25 * 3000, top


@pytest.mark.parametrize("interp", PYENV, ids=repr)
def test_exact_counts_match_the_scenario(interp, scenario):
    s = scenario(interp, "alloc_rates.py", "--rate", "2000", "--keep", "0.5", "--duration", "60")
    t0 = s.truth()
    snaps = pyleak_json_lines("top", "-b", "--json", "-d", "1", "-n", "6", "-p", s.pid, "--no-census",
                              "--alloc", "exact", timeout=120)
    t1 = s.refresh_truth()
    rates = []
    for snap in snaps:
        e = proc_entry(snap, s.pid)
        if e and e["alloc"]:
            assert e["alloc"]["source"] == "exact" and e["alloc"]["estimated"] is False
            assert e["alloc"]["incomplete"] is False
            for t in e["alloc"]["types"]:
                if t["name"] == "__main__.Alloc":
                    rates.append((t["alloc_per_s"], t["free_per_s"]))
    assert len(rates) >= 3, snaps[-1]
    # The scenario's own rate over the same stretch (it paces itself at --rate per second).
    created = t1["created"]["__main__.Alloc"] - t0["created"]["__main__.Alloc"]
    truth_rate = created / (t1["time"] - t0["time"])
    for alloc_s, free_s in rates[1:]:
        assert abs(alloc_s - truth_rate) <= 0.06 * truth_rate + 20, (alloc_s, truth_rate)
        assert free_s is not None and abs(free_s - truth_rate) <= 0.1 * truth_rate + 50, (free_s, truth_rate)
