#!/bin/bash -eu
# Build every target in fuzz/targets/ for ClusterFuzzLite / OSS-Fuzz (run inside the image of
# .clusterfuzzlite/Dockerfile, which sets $SRC and $OUT and provides compile_python_fuzzer).
#
# Each fuzz/targets/<name>.py becomes $OUT/<name>, a PyInstaller bundle of the script with
# stack/ and harness/; `elsinore fuzz export` writes beside it the files the engine reads:
# <name>_seed_corpus.zip (fuzz/corpora/<family>/ and the saved findings in fuzz/crashes/<name>/),
# <name>.dict (fuzz/dicts/<family>.dict) and <name>.options (max_len, timeout, rss_limit_mb).

cd "$SRC/elsinore"
# hypothesis: mime_isomorphism draws its messages through harness.strategies.
pip3 install ".[fuzz]" "hypothesis>=6.100"

for target in fuzz/targets/*.py; do
    # dnspython imports its rdata classes and Python its codecs by name at run time, which
    # PyInstaller cannot see: collect them whole.
    compile_python_fuzzer "$target" \
        --collect-submodules dns \
        --collect-submodules encodings
done

elsinore fuzz export "$OUT"
