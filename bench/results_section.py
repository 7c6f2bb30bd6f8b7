"""Replace one `## NAME` section of bench/RESULTS.md with a new one (its first line names it), keep the
others; a new section goes at the end.
    python3 bench/results_section.py RESULTS.md SECTION.md"""
import os
import re
import sys

path, section = sys.argv[1], open(sys.argv[2]).read()
heading = section.splitlines()[0]
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n\n"
if re.search("^" + re.escape(heading) + "$", text, flags=re.M):
    text = re.sub("^" + re.escape(heading) + r"\n.*?(?=\n## |\Z)", lambda _: section.rstrip("\n") + "\n", text,
                  flags=re.S | re.M)
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
