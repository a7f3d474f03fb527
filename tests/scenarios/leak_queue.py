# SPDX-License-Identifier: BSD-2-Clause
"""leak_queue: producers outrun the single consumer of a queue.Queue; the backlog grows.

--producers threads put job tuples (seq, handler function, payload str) into the module-level
queue.Queue `jobs` at --rate per second in total; one consumer thread takes them at
--consume-rate per second.  The backlog (the Queue's .queue deque) grows at the difference.
Each tuple holds a function, so the collector never untracks it: the census sees the tuples.

pyleak should show: type tuple growing at about --rate minus --consume-rate live/s, and the
container that holds them: the collections.deque at jobs.queue (held by the module global
__main__.jobs, a queue.Queue).

Truth keys: expected, expected_all, containers {"__main__.jobs.queue": len}, container_len,
produced, consumed, live ({"tuple": all live tracked tuples, at each write}), job_tuples_live
(produced - consumed), producers, rate, consume_rate.  Counters are read while the threads run,
so mid-run writes can be off by up to --producers; the idle write is exact.
"""

import os
import queue
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

jobs = queue.Queue()
STOP = threading.Event()


def process_job(job):
    return len(job[2])


def producer(idx, rate, produced, duration):
    def step(i):
        jobs.put((i, process_job, "payload-%d-%d" % (idx, i)))
        produced[idx] += 1
    paced(rate, step)


def consumer(rate, consumed):
    def step(i):
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return
        job[1](job)
        consumed[0] += 1
    paced(rate, step)


def paced(rate, step):
    import time
    start = time.monotonic()
    done = 0
    while not STOP.is_set():
        target = int((time.monotonic() - start) * rate)
        while done < target:
            step(done)
            done += 1
        time.sleep(0.02)


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=150.0,
                   help="jobs produced per second, all producers together (default %(default)s)")
    p.add_argument("--consume-rate", type=float, default=100.0,
                   help="jobs consumed per second (default %(default)s)")
    p.add_argument("--producers", type=int, default=3, help="producer threads (default 3)")
    args = p.parse_args()
    produced = [0] * args.producers
    consumed = [0]

    def extra():
        n = jobs.qsize()
        prod = sum(produced)
        return {
            "scenario": "leak_queue",
            "expected": {"kind": "type", "name": "tuple"},
            "expected_all": [
                {"kind": "type", "name": "tuple"},
                {"kind": "container", "name": "__main__.jobs.queue", "type": "collections.deque",
                 "holder": "__main__.jobs", "holder_type": "queue.Queue"},
            ],
            "containers": {"__main__.jobs.queue": n},
            "container_len": n,
            "produced": prod,
            "consumed": consumed[0],
            "job_tuples_live": prod - consumed[0],
            "created": {"tuple": prod},
            "live": _truth.count_instances([tuple]),
            "producers": args.producers,
            "rate": args.rate,
            "consume_rate": args.consume_rate,
        }

    _truth.setup(args, extra)
    threads = [threading.Thread(target=producer, name="producer-%d" % i,
                                args=(i, args.rate / args.producers, produced, args.duration))
               for i in range(args.producers)]
    threads.append(threading.Thread(target=consumer, name="consumer",
                                    args=(args.consume_rate, consumed)))
    for t in threads:
        t.daemon = True
        t.start()
    _truth.announce("start", scenario="leak_queue")
    if args.duration > 0:
        _truth.sleep(args.duration)
    else:
        while True:
            _truth.sleep(3600)
    STOP.set()
    for t in threads:
        t.join()
    _truth.idle()


if __name__ == "__main__":
    main()
