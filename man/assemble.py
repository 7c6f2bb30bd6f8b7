#!/usr/bin/env python3
"""Completes the man pages swift-argument-parser's generate-manual plugin writes: the hand-written
sections in man/sections/NAME.mdoc replace the generated EXIT STATUS stub, and the pages are named
swproxy-fetch.1 / swproxy-serve.1. Usage: assemble.py GENERATED_DIR OUT_DIR"""

import os
import re
import sys

gen, out = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(out, exist_ok=True)
for src, name in (("swproxy.1", "swproxy"), ("swproxy.fetch.1", "swproxy-fetch"), ("swproxy.serve.1", "swproxy-serve")):
    with open(os.path.join(gen, src)) as f:
        text = f.read()
    with open(os.path.join(here, "sections", name + ".mdoc")) as f:
        sections = f.read()
    text = text.replace(".Dt SWPROXY.FETCH 1", ".Dt SWPROXY-FETCH 1").replace(".Dt SWPROXY.SERVE 1", ".Dt SWPROXY-SERVE 1")
    text = re.sub(r"\.Xr swproxy\.(fetch|serve) 1", r".Xr swproxy-\1 1", text)
    text = re.sub(r"\.Xr swproxy\.help 1 ,\n", "", text)
    # Drop the generated EXIT STATUS stub and SEE ALSO (the hand-written sections carry their own).
    text = re.sub(r'\.Sh "EXIT STATUS"\n\.Ex -std\n?', "", text)
    text = re.sub(r'\.Sh "SEE ALSO"\n(\.Xr [^\n]*\n?)*', "", text)
    with open(os.path.join(out, name + ".1"), "w") as f:
        f.write(text.rstrip("\n") + "\n" + sections)
