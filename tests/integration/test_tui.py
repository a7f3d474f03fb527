# SPDX-License-Identifier: BSD-2-Clause
"""`pyleak top` interactive: the real TUI driven in tmux against real scenarios.

The screen is read with `tmux capture-pane` and its numbers are checked against the scenario's
truth (gc.get_stats(), len(gc.garbage), the version), then the keys (filter, sort, drill in and
out), resizes, and every way out (q, -n, Ctrl-C, SIGTERM): exit 0, the terminal left the
alternate screen, and no BPF program or link pyleak loaded stays behind.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import PYLEAK, Interp, bpf_objects, need

DEBIAN = Interp("debian-3.11", "/usr/bin/python3.11", (3, 11), "usdt")
SOCKET = "pyleak-test-%d" % os.getpid()  # a private tmux server: never touch the user's sessions
# pyleak's BPF programs as bpftool names them (15 characters at most)
PYLEAK_PROGS = re.compile(r"^(gc_|young_|exact_)")


def _tmux(*args, **kw):
    return subprocess.run(["tmux", "-L", SOCKET] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=30, **kw)


class Tui(object):
    """pyleak top in a detached tmux pane; the pane outlives pyleak so its state can be read."""

    def __init__(self, args, width=120, height=40):
        self.dir = tempfile.mkdtemp(prefix="pyleak-tui-")
        self.status_path = os.path.join(self.dir, "status")
        self.pid_path = os.path.join(self.dir, "pid")
        self.name = "tui%d" % int(time.time() * 1000 % 1e8)
        cmd = " ".join([PYLEAK, "top"] + [str(a) for a in args])
        # `exec` keeps pyleak's pid = the shell's, written first, for the signal tests.
        # The pane's shell ignores SIGINT so that Ctrl-C tests pyleak, not sh (pyleak installs
        # its own handler whatever it inherits).
        script = ("trap '' INT; echo $$ > %s; export LANG=C.UTF-8; "
                  "sh -c 'echo $$ > %s; exec %s'; echo $? > %s; exec sleep 600" % (
                      self.pid_path + ".sh", self.pid_path, cmd, self.status_path))
        r = _tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), "sh", "-c", script)
        assert r.returncode == 0, r.stderr

    def pid(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open(self.pid_path) as f:
                    return int(f.read())
            except (IOError, ValueError):
                time.sleep(0.05)
        raise AssertionError("pyleak did not start in tmux")

    def screen(self):
        return _tmux("capture-pane", "-p", "-t", self.name).stdout

    def lines(self):
        return self.screen().split("\n")

    def keys(self, *keys):
        _tmux("send-keys", "-t", self.name, *keys)

    def type(self, text):
        _tmux("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, pred, timeout=20, what="screen condition"):
        deadline = time.time() + timeout
        scr = ""
        while time.time() < deadline:
            scr = self.screen()
            try:
                v = pred(scr)
            except (ValueError, IndexError, KeyError):
                v = None
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s; screen:\n%s" % (what, scr))

    def wait_text(self, text, timeout=20):
        return self.wait_for(lambda s: s if text in s else None, timeout, repr(text))

    def alternate_on(self):
        return _tmux("display", "-p", "-t", self.name, "#{alternate_on}").stdout.strip() == "1"

    def resize(self, w, h):
        r = _tmux("resize-window", "-t", self.name, "-x", str(w), "-y", str(h))
        assert r.returncode == 0, r.stderr

    def status(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open(self.status_path) as f:
                    return int(f.read())
            except (IOError, ValueError):
                time.sleep(0.05)
        raise AssertionError("pyleak did not exit; screen:\n%s" % self.screen())

    def close(self):
        try:
            pid = int(open(self.pid_path).read())
            if not os.path.exists(self.status_path):
                os.kill(pid, signal.SIGKILL)
        except (IOError, ValueError, OSError):
            pass
        _tmux("kill-session", "-t", self.name)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def tui(root):
    need(shutil.which("tmux") is not None, "tmux is not installed")
    started = []

    def start(*args, **kw):
        t = Tui(args, **kw)
        started.append(t)
        return t

    yield start
    for t in started:
        t.close()
    _tmux("kill-server")


def table_header(lines):
    for i, l in enumerate(lines):
        if re.match(r"^\s+PID COMMAND", l):
            return i
    raise ValueError("no table header")


def row_line(lines, pid):
    for l in lines:
        if re.match(r"^\s*%d " % pid, l) and len(l) >= 7 and l[:7].strip() == str(pid):
            return l
    return None


def cell(lines, pid, title):
    """The text of one column of pid's row, by the title's position in the header (right-aligned
    numbers end where their title ends; PY and COMMAND start where theirs starts)."""
    head = lines[table_header(lines)]
    line = row_line(lines, pid)
    if line is None:
        raise ValueError("no row for %d" % pid)
    m = re.search(r"(?<![^ ])%s[\u25bc\u25b2]?(?![^ ])" % re.escape(title), head)
    if not m:
        raise ValueError("no column %s" % title)
    widths = {"PY": 6, "GARBAGE": 7, "RSS": 6, "LIVE": 6, "G2/s": 5, "G0/s": 5}
    if title in ("PY", "TIER", "COMMAND", "SUSPECT"):
        return line[m.start():m.start() + widths.get(title, 6)].strip()
    return line[m.end() - widths[title]:m.end()].strip()


def gc_table(screen):
    """{gen: (collections, collected, uncollectable, threshold, count)} from the drill-in view."""
    out = {}
    for l in screen.split("\n"):
        # pause rows ("gen0  500  50.0ms ...", "gen1  0  -") do not match: times are not integers
        m = re.match(r"^gen([012])\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+(\s|$)", l)
        if m:
            out[int(m.group(1))] = tuple(int(m.group(i)) for i in range(2, 7))
    return out


def pause_table(screen):
    """{gen: count} from the drill-in pause table (the line after the PAUSES title)."""
    lines = screen.split("\n")
    out = {}
    for i, l in enumerate(lines):
        if "PAUSES" in l:
            col = l.rfind("GEN", 0, l.index("PAUSES"))
            for g in range(3):
                m = re.match(r"^gen%d\s+(\d+)" % g, lines[i + 1 + g][col:])
                if m:
                    out[g] = int(m.group(1))
    return out


def truth_stats(t):
    """What the drill-in view must show, less gc.get_count(): the truth writer itself moves the
    young count after sampling it (json, file I/O), so the count is only checked for range."""
    return {g: (t["gc_stats"][g]["collections"], t["gc_stats"][g]["collected"], t["gc_stats"][g]["uncollectable"],
                t["gc_threshold"][g]) for g in range(3)}


def gc_counters(screen):
    return {g: v[:4] for g, v in gc_table(screen).items()}


def test_tui_rows_drill_in_against_truth(tui, scenario):
    """gc_saveall: the row's version and garbage, and the drill-in counters, equal the target's truth."""
    s = scenario(DEBIAN, "gc_saveall.py", "--duration", "4", "--rate", "100", "--collect-every", "1")
    t = tui("-p", s.pid, "-d", "0.5")
    t.wait_for(lambda scr: row_line(scr.split("\n"), s.pid), what="the scenario's row")
    scr = t.screen()
    assert "1 python process" in scr.split("\n")[0]
    assert "probes usdt:1" in scr and "dropped" in scr and "pyleak cpu" in scr
    truth = s.truth(phase="idle")
    lines = t.wait_for(lambda scr: cell(scr.split("\n"), s.pid, "GARBAGE") == str(truth["garbage_len"])
                       and scr.split("\n"), what="garbage = %d" % truth["garbage_len"])
    assert truth["garbage_len"] > 100
    assert cell(lines, s.pid, "PY") == truth["python"]
    assert cell(lines, s.pid, "TIER") == "usdt"
    assert "gc_saveall.py" in row_line(lines, s.pid)

    # drill in: exact cumulative counters per generation = gc.get_stats(), thresholds, counts
    t.keys("Enter")
    t.wait_text("COLLECTIONS")
    want = truth_stats(truth)
    got = t.wait_for(lambda scr: gc_counters(scr) == want and gc_table(scr), timeout=10,
                     what="drill-in counters %s" % want)
    assert got[2][0] >= 4  # the explicit gc.collect() every second
    for g in range(3):
        assert 0 <= got[g][4] <= max(got[g][3], 1) * 2, got
    scr = t.screen()
    assert "PID %d" % s.pid in scr and "Python %s" % truth["python"] in scr
    assert "garbage %d" % truth["garbage_len"] in scr
    # pauses timed since pyleak attached: every one of them is a collection the target counted
    pauses = pause_table(scr)
    assert set(pauses) == {0, 1, 2}
    assert 1 <= pauses[2] <= truth["gc_stats"][2]["collections"]
    for g in range(3):
        assert pauses[g] <= truth["gc_stats"][g]["collections"]
    # the gen2 timeline saw collections (one a second while active, refresh 0.5 s)
    m = re.search(r"gen2 last\s+\d+ max\s+(\d+)", scr)
    assert m and int(m.group(1)) >= 1, scr
    assert "Pause histograms" in scr

    # tabs, then back (the Types tab has data once the first census ran: either is right here)
    t.keys("Right")
    t.wait_for(lambda scr: "Types: no data yet" in scr or re.search(r"^ TYPE\s+LIVE\s+/MIN", scr, re.M),
               what="the Types tab")
    t.keys("Escape")
    t.wait_for(lambda scr: re.search(r"^\s+PID COMMAND", scr, re.M), what="the table again")
    t.keys("q")
    assert t.status() == 0
    assert not t.alternate_on()


def test_tui_sort_filter_resize_quit(tui, scenario):
    """Two targets: sort order follows the column, / filters by pid, resizes keep a sane screen."""
    a = scenario(DEBIAN, "gc_saveall.py", "--duration", "3", "--rate", "200", "--collect-every", "0.5")
    b = scenario(DEBIAN, "gc_mix.py", "--duration", "3", "--rate", "2000")
    ta, tb = a.truth(phase="idle"), b.truth(phase="idle")
    assert ta["garbage_len"] > 0 and tb["garbage_len"] == 0
    t = tui("-p", "%d,%d" % (a.pid, b.pid), "-d", "0.5")
    t.wait_for(lambda scr: row_line(scr.split("\n"), a.pid) and row_line(scr.split("\n"), b.pid),
               what="both rows")

    # sort by GARBAGE: step with '>' until the sort line names it, high first -> a above b
    for _ in range(20):
        if re.search(r"^sort GARBAGE", t.screen(), re.M):
            break
        t.keys(">")
        time.sleep(0.15)
    lines = t.wait_text("sort GARBAGE").split("\n")
    assert lines.index(row_line(lines, a.pid)) < lines.index(row_line(lines, b.pid))
    t.keys("I")  # reversed: b first
    lines = t.wait_text("(reversed)").split("\n")
    assert lines.index(row_line(lines, b.pid)) < lines.index(row_line(lines, a.pid))

    # filter by pid: only b, then a filter nothing matches, then cleared with Esc
    t.keys("/")
    t.wait_text("Filter:")
    t.type(str(b.pid))
    t.keys("Enter")
    t.wait_for(lambda scr: "filter '%d' 1/2" % b.pid in scr and row_line(scr.split("\n"), a.pid) is None,
               what="filtered to b")
    assert row_line(t.lines(), b.pid)
    t.keys("/")
    t.keys("BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace")
    t.type("zzz-no-such")
    t.keys("Enter")
    t.wait_text("no process matches 'zzz-no-such'")
    t.keys("Escape")
    t.wait_for(lambda scr: row_line(scr.split("\n"), a.pid) and row_line(scr.split("\n"), b.pid),
               what="both rows after clearing the filter")

    # 80x24: still the essentials, nothing wider than the terminal
    t.resize(80, 24)
    lines = t.wait_for(lambda scr: len(scr.split("\n")) <= 25 and table_header(scr.split("\n")) >= 0
                       and max(len(l) for l in scr.split("\n")) <= 80 and scr.split("\n"), what="80x24 layout")
    assert cell(lines, a.pid, "GARBAGE") == str(ta["garbage_len"])
    assert "Quit" in t.screen()
    # too small: says so instead of a broken table
    t.resize(30, 6)
    t.wait_text("terminal too small")
    t.resize(120, 40)
    t.wait_for(lambda scr: row_line(scr.split("\n"), a.pid), what="the table after growing")
    # pause, interval
    t.keys("p")
    t.wait_text("PAUSED")
    t.keys("p", "+")
    t.wait_text("every 1s")
    t.keys("q")
    assert t.status() == 0
    assert not t.alternate_on()


def test_tui_iterations_exit(tui, scenario):
    """-n N quits by itself with 0 and a restored terminal (the headless mode)."""
    s = scenario(DEBIAN, "gc_saveall.py", "--duration", "1")
    s.truth(phase="idle")
    t = tui("-p", s.pid, "-n", "3", "-d", "0.2")
    assert t.status(timeout=20) == 0
    assert not t.alternate_on()


def _pyleak_prog_ids():
    objs = bpf_objects()
    progs = {p["id"] for p in objs["prog"] if PYLEAK_PROGS.match(p.get("name", ""))}
    links = {l["id"] for l in objs["link"] if l.get("prog_id") in progs}
    return progs, links


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_tui_signal_detaches(tui, scenario, how):
    """Ctrl-C and SIGTERM: exit 0, terminal restored, and every program/link pyleak loaded is gone."""
    need(shutil.which("bpftool") is not None, "bpftool is not installed")
    s = scenario(DEBIAN, "gc_saveall.py", "--duration", "30", "--rate", "100")
    before_p, before_l = _pyleak_prog_ids()
    t = tui("-d", "0.5")  # every Python process, like an operator would
    t.wait_for(lambda scr: row_line(scr.split("\n"), s.pid), what="the scenario's row")
    during_p, during_l = _pyleak_prog_ids()
    ours_p, ours_l = during_p - before_p, during_l - before_l
    assert ours_p, "pyleak top loaded no BPF program (before %s, during %s)" % (before_p, during_p)
    assert t.alternate_on()
    if how == "ctrl-c":
        t.keys("C-c")
    else:
        os.kill(t.pid(), signal.SIGTERM)
    assert t.status() == 0
    assert not t.alternate_on()
    # the kernel frees programs when the last fd closes; allow a moment, and for another pyleak
    # test run that might have loaded programs in the same window to end
    deadline = time.time() + 15
    while True:
        after_p, after_l = _pyleak_prog_ids()
        left_p, left_l = ours_p & after_p, ours_l & after_l
        if not left_p and not left_l:
            break
        assert time.time() < deadline, "left behind: programs %s links %s" % (sorted(left_p), sorted(left_l))
        time.sleep(0.5)


def _per_min(text):
    """"+3.0k/m" -> 3000.0, "+57/m" -> 57.0."""
    m = re.match(r"^([+-]?[\d.]+)([kMG]?)/m$", text)
    assert m, text
    return float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]


def test_tui_types_tab_and_suspect_against_truth(tui, scenario):
    """leak_connections: the SUSPECT column names a leak the truth expects within 60 s, the
    Suspects tab lists the expected type, and the Types tab's live count of the leaking class
    equals the target's own count once it is idle, with a growth near the truth's rate."""
    s = scenario(DEBIAN, "leak_connections.py", "--duration", "40")
    start = s.truth()["start_time"]
    expected_names = {e["name"] for e in s.truth()["expected_all"]}
    t = tui("-p", s.pid, "-d", "1", width=170, height=45)
    t.wait_for(lambda scr: row_line(scr.split("\n"), s.pid), what="the scenario's row")

    def suspect_cell(scr):
        lines = scr.split("\n")
        head = lines[table_header(lines)]
        line = row_line(lines, s.pid)
        if line is None:
            return None
        c = line[head.index("SUSPECT"):].strip()
        return c if c not in ("", "-") else None

    cellv = t.wait_for(suspect_cell, timeout=70, what="a suspect in the SUSPECT column")
    assert time.time() - start <= 60, "first suspect after %.1f s" % (time.time() - start)
    name, rate = cellv.split()[0], cellv.split()[1]
    assert name in expected_names, (cellv, expected_names)
    assert 3000 / 2 <= _per_min(rate) <= 3000 * 2, cellv

    t.keys("Enter")
    t.wait_text("COLLECTIONS")
    t.keys("5")
    scr = t.wait_for(lambda scr: re.search(r"^ type\s+__main__\.Connection\s+\+[\d.]+k/m\s+confidence", scr, re.M)
                     and scr, timeout=20, what="the Connection suspect in the Suspects tab")
    assert "Theil-Sen" in scr and "Mann-Kendall" in scr

    t.keys("2")
    row = t.wait_for(lambda scr: re.search(r"^ __main__\.Connection\s+(\d+)\s+(\S+)\s+\S+ \S*", scr, re.M),
                     what="the Connection row of the Types tab")
    assert 3000 / 2 <= _per_min(row.group(2)) <= 3000 * 2, row.group(0)
    truth = s.truth(phase="idle")
    want = truth["live"]["__main__.Connection"]
    t.wait_for(lambda scr: re.search(r"^ __main__\.Connection\s+%d\s" % want, scr, re.M), timeout=30,
               what="LIVE %d (the idle truth) in the Types tab" % want)
    t.keys("q")
    assert t.status() == 0


def test_tui_sites_tab_switches_to_survivors(tui, scenario):
    """survivors.py: the Sites tab shows the allocation profile (parse_batch on top); 'v' switches
    to the survivors of one type, where __main__.Record's top row is handle_request with >= 80%,
    and the footer names the key; 'v' again goes back."""
    s = scenario(DEBIAN, "survivors.py", "--cycles", "--rate", "300")
    truth = s.truth()
    leak, churn = truth["sites"]["leak"]["function"], truth["sites"]["churn"]["function"]
    t = tui("-p", s.pid, "-d", "1", width=200, height=45)
    t.wait_for(lambda scr: row_line(scr.split("\n"), s.pid), what="the scenario's row")
    t.keys("Enter")
    t.wait_text("COLLECTIONS")
    t.keys("4")
    t.wait_text("Sites (allocations; v: survivors)")
    # 8 collection starts: one churn batch at least (it holds 9 or more, the leak allocations
    # between two batches at most 3), so the top row is the churn whatever the phase
    scr = t.wait_for(lambda scr: sum(int(n) for n in re.findall(r"^\s+\d+\.\d%\s+(\d+)\s+\S+:\d+ \S+", scr, re.M)) >= 8
                     and scr, timeout=60, what="8 allocation-site samples")
    first = re.search(r"^\s+\d+\.\d%\s+\d+\s+\S+:\d+ (\S+)", scr, re.M).group(1)
    assert first == churn, first  # the plain profile: the churn allocates most
    assert "Alloc/Survivors" in scr  # the key is in the footer
    t.keys("v")

    def record_top(scr):
        if "Survivors of __main__.Record" not in scr:
            t.keys("]")  # the types with samples, most alive first: find Record
            return None
        m = re.search(r"Survivors of __main__\.Record .*?: (\d+) alive", scr)
        rows = re.findall(r"^\s+(\d+\.\d)%\s+(\d+) alive\s+\d+/\d+\s+\S+:\d+ (\S+)", scr, re.M)
        if not m or int(m.group(1)) < 5 or not rows:
            return None
        return rows

    rows = t.wait_for(record_top, timeout=90, what="5 alive samples of __main__.Record in the survivors view")
    share, alive, func = rows[0]
    assert func == leak and float(share) >= 80.0, rows
    t.keys("v")
    t.wait_text("Sites (allocations; v: survivors)")
    t.keys("q")
    assert t.status() == 0
