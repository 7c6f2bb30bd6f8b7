#!/usr/bin/env python3
"""Reads runtests.pl's log and reports: how many of the tests that ran passed, each failure's number with its
first failing check, and, with CURL_SUITE_RATCHET=1, whether every test in must-pass.txt still passes
(exit 1 if not). Tests listed in DIFFERENCES.md (a line starting with "| NNNN |" or "- NNNN") are the ones
failed on purpose.

usage: report.py RUNTESTS_LOG WORK_DIR SUITE_DIR
       report.py --recheck RUNTESTS_LOG TESTS...   (exit 0 when every one of TESTS passed in that log)"""

import os
import re
import sys


def parse(log):
    ok, failed, skipped = set(), {}, {}
    current = None
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"test (\d{4})\.\.\.", line)
            if m:
                current = int(m.group(1))
                continue
            m = re.match(r"test (\d{4}) SKIPPED: (.*)", line)
            if m:
                skipped[int(m.group(1))] = m.group(2).strip()
                continue
            if current is None:
                continue
            if re.search(r"\bOK \(", line):
                ok.add(current)
                continue
            m = re.match(r"\s*(\d+): (.+?) FAILED", line)
            if m and int(m.group(1)) == current:
                failed.setdefault(current, m.group(2))
                continue
            m = re.search(r"returned (-?\d+), when expecting (-?\d+)", line)
            if m:
                failed.setdefault(current, f"exit code {m.group(1)}, expected {m.group(2)}")
                continue
            m = re.match(r"\s*(exit|postcheck|valgrind|server precheck)\b.*FAILED", line)
            if m:
                failed.setdefault(current, m.group(1))
    for n in ok:
        failed.pop(n, None)
    return ok, failed, skipped


def numbers(path, pattern):
    if not os.path.exists(path):
        return set()
    out = set()
    with open(path) as f:
        for line in f:
            m = re.match(pattern, line)
            if m:
                out.add(int(m.group(1)))
    return out


def recheck(log, tests):
    ok, failed, _ = parse(log)
    still = [t for t in tests if t not in ok]
    if still:
        print(f"curl-suite ratchet: failing again when run alone: {' '.join(map(str, still))}")
        for n in still:
            print(f"  test {n}: {failed.get(n, 'did not run')}")
        return 1
    print(f"curl-suite ratchet: {' '.join(map(str, tests))} passed when run again alone (flaky under load)")
    return 0


def main():
    if sys.argv[1] == "--recheck":
        return recheck(sys.argv[2], [int(t) for t in sys.argv[3:]])
    log, work, suite = sys.argv[1:4]
    ok, failed, skipped = parse(log)
    with open(os.path.join(work, "passed.txt"), "w") as f:
        f.write("".join(f"{n}\n" for n in sorted(ok)))
    must = numbers(os.path.join(suite, "must-pass.txt"), r"\s*(\d+)\s*$")
    differ = numbers(os.path.join(suite, "DIFFERENCES.md"), r"\s*(?:\|\s*|-\s+)(\d{1,4})\b")
    ratchet = os.environ.get("CURL_SUITE_RATCHET") == "1"
    broken = sorted(must - ok)
    if ratchet:
        print(f"curl-suite ratchet: {len(must) - len(broken)} of the {len(must)} must-pass tests pass; "
              f"{len(ok) - len(ok & must)} others pass too, {len(failed)} tests fail "
              f"({len(set(failed) & differ)} on purpose, see Tests/curl-suite/DIFFERENCES.md), {len(skipped)} skipped")
    else:
        print(f"{len(ok)} passed, {len(failed)} failed")
        print(f"({len(skipped)} skipped by runtests.pl; the log is {log})")
    for n in sorted(failed):
        tag = " (in DIFFERENCES.md)" if n in differ else ""
        print(f"  test {n}: {failed[n]}{tag}")
    newly = sorted(ok - must)
    if newly and ratchet:
        print(f"passing but not in must-pass.txt yet (add them): {' '.join(map(str, newly))}")
    with open(os.path.join(work, "broken.txt"), "w") as f:
        f.write(" ".join(map(str, broken)))
    if broken:
        print(f"MUST-PASS TESTS THAT FAIL: {' '.join(map(str, broken))}")
        return 1 if ratchet else 0
    if not ok and not failed:
        print("no test ran: see the log")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
