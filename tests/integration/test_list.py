# SPDX-License-Identifier: BSD-2-Clause
"""`pyleak list` against every interpreter on the machine: version, build facts, tier."""

import os
import subprocess
import sys
import time

import pytest

from conftest import PYLEAK, interpreters, resolve, run_pyleak, need

MATRIX = interpreters(minors=((3, 6), (3, 7), (3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13)), stripped=True,
                      feature="list")


def _sleeper(interp):
    p = subprocess.Popen([resolve(interp), "-c",
                          "import sys, time, json; print(json.dumps(list(sys.version_info[:3])), flush=True);"
                          " time.sleep(120)"], stdout=subprocess.PIPE, universal_newlines=True)
    line = p.stdout.readline()
    return p, ".".join(str(x) for x in __import__("json").loads(line))


@pytest.mark.parametrize("interp", MATRIX, ids=repr)
def test_list_reports_interpreter(root, interp):
    p, version = _sleeper(interp)
    try:
        out = run_pyleak("list", "--json")
        procs = {e["pid"]: e for e in __import__("json").loads(out.stdout)["processes"]}
        assert p.pid in procs, "pid %d (%s) not listed" % (p.pid, interp)
        e = procs[p.pid]
        assert e["python"] == version
        assert e["gc_source"] == interp.tier
        assert e["supported"] is True, e["why"]
        assert e["free_threaded"] is interp.free_threaded
        assert e["exe"] == os.path.realpath(resolve(interp))
        if interp.usdt is not None:  # an extra interpreter (conftest.EXTRA) states its facts
            assert e["shared"] is interp.shared and (e["libpython"] is None) is (not interp.shared)
            assert e["usdt"] is interp.usdt and e["symtab"] is interp.symtab
        elif interp.name.startswith("pyenv"):
            assert e["shared"] is True and e["libpython"].startswith(os.path.dirname(os.path.dirname(interp.path)))
            assert e["symtab"] is True and e["usdt"] is False
        elif interp.name == "debian-3.11":
            assert e["shared"] is False and e["libpython"] is None
            assert e["usdt"] is True and e["symtab"] is False
        else:
            assert e["usdt"] is False and e["symtab"] is False
        assert e["debug_offsets"] is (interp.minor >= (3, 13))
        # plain text lists it too
        txt = run_pyleak("list", "-p", p.pid).stdout
        assert str(p.pid) in txt and version in txt and interp.tier in txt
    finally:
        p.kill()
        p.wait()


def test_list_ignores_non_python(root):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        procs = __import__("json").loads(run_pyleak("list", "--json").stdout)["processes"]
        assert sleeper.pid not in [e["pid"] for e in procs]
        bad = run_pyleak("list", "-p", sleeper.pid, check=False)
        assert bad.returncode == 1 and "not a CPython process" in bad.stderr
    finally:
        sleeper.kill()
        sleeper.wait()


def test_list_bad_pid_and_usage(root):
    p = run_pyleak("list", "-p", "4194303", check=False)
    assert p.returncode == 1 and "no such process" in p.stderr
    p = run_pyleak("frobnicate", check=False)
    assert p.returncode == 2 and "unknown command" in p.stderr
    p = run_pyleak("list", "--bogus", check=False)
    assert p.returncode == 2


def test_list_without_privilege():
    need(os.geteuid() == 0, "needs root to drop privileges")
    need(subprocess.call(["which", "setpriv"], stdout=subprocess.DEVNULL) == 0, "setpriv missing")
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                        PYLEAK, "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert p.returncode == 1
    assert "CAP_SYS_PTRACE" in p.stderr and "run as root" in p.stderr


def test_help_and_version():
    p = run_pyleak("--version")
    assert p.stdout.startswith("pyleak ")
    for cmd in ("list", "top"):
        h = run_pyleak(cmd, "--help").stdout
        for section in ("USAGE", "OPTIONS", "EXAMPLES"):
            assert section in h, (cmd, section)
    assert "COMMANDS" in run_pyleak("help").stdout
