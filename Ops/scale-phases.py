#!/usr/bin/env python3
"""The coordinator's answers to `coord status --watch 1` in each phase of one Ops/bench-scale.sh run.

    python3 Ops/scale-phases.py .cache/bench/scale/<run>

Phases come from the coordinator's log (co.log): the file check (until "job submitted"), the
upload (until the seal starts), the seal, embedding and commits (until "building HNSW index"),
and the HNSW build (until "job done"). For each: answers, the slowest, and how many took over
1 s and over 0.5 s (answers.txt, one "-- HH:MM:SS UTC, answered in N ms" line each).
"""
import re
import sys

MARKS = [
    ("submitted", "job submitted"),
    ("sealing", "job sealing in steps"),
    ("sealed", "job sealed: dealing"),
    ("hnsw", "building HNSW index"),
    ("done", "job done"),
]
PHASES = [
    ("check", None, "submitted"),
    ("upload", "submitted", "sealing"),
    ("seal", "sealing", "sealed"),
    ("embed", "sealed", "hnsw"),
    ("hnsw", "hnsw", "done"),
]


def seconds(clock):
    h, m, s = map(int, clock.split(":"))
    return h * 3600 + m * 60 + s


def main(folder):
    marks = {}
    with open(f"{folder}/co.log", errors="replace") as log:
        for line in log:
            for key, text in MARKS:
                if text in line and key not in marks:
                    marks[key] = seconds(line[11:19])
    if "sealed" in marks and "sealing" not in marks:
        marks["sealing"] = marks["sealed"]  # sealed at once: no steps
    answers = []
    with open(f"{folder}/answers.txt", errors="replace") as lines:
        for line in lines:
            found = re.match(r"-- (\d\d:\d\d:\d\d) UTC, answered in (\d+) ms", line)
            if found:
                answers.append((seconds(found.group(1)), int(found.group(2))))
    for name, start, end in PHASES:
        if start and start not in marks:
            continue  # not reached (yet)
        low = marks[start] if start else 0
        high = marks.get(end, 10**9)
        times = [ms for at, ms in answers if low <= at < high]
        if times:
            print(
                f"{name:7s} {len(times):6d} answers  slowest {max(times):6d} ms  "
                f"over 1 s {sum(t > 1000 for t in times):4d}  over 0.5 s {sum(t > 500 for t in times):4d}"
            )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: Ops/scale-phases.py RUN_FOLDER (a folder of .cache/bench/scale/)")
    main(sys.argv[1])
