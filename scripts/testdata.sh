#!/usr/bin/env bash
# Downloads the public data sets Mamori's tests and benchmarks read, into
# DIR (default ../shared/data), at the commits the tests were written
# against. Nothing of them is ever committed to this repository.
#
#   sigma/                      SigmaHQ/sigma @ 8eaafff (rules + regression_data), DRL 1.1
#   sigma-regression-manifest.jsonl   built here from sigma/regression_data
#   evtx/hayabusa-sample-evtx/  Yamato-Security/hayabusa-sample-evtx @ 071da2e
#   otrf/compound/              OTRF/Security-Datasets @ d9d40ef (datasets/compound)
#   network/zeek/               brimdata/zed-sample-data @ 8da0758 (zeek-ndjson)
#   network/suricata/           FrankHassanabad/suricata-sample-data @ 2d94c5d
#   web/apache-scans/           ocatak/apache-http-logs @ 56348b7
#   stix2-json-schemas/         oasis-open/cti-stix2-json-schemas @ 3bf9e69 (STIX 2.1 JSON schemas), BSD-3-Clause
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data}"
mkdir -p "$dir"
cd "$dir"

fetch() { # fetch NAME REPO COMMIT [SUBDIR] -> ./NAME
	local name=$1 repo=$2 commit=$3 sub=${4:-}
	if [ -e "$name" ]; then echo "$name: present, skipped"; return; fi
	local tmp
	tmp=$(mktemp -d)
	git -C "$tmp" init -q
	git -C "$tmp" remote add origin "https://github.com/$repo.git"
	git -C "$tmp" fetch -q --depth 1 origin "$commit"
	git -C "$tmp" checkout -q FETCH_HEAD
	mkdir -p "$(dirname "$name")"
	if [ -n "$sub" ]; then mv "$tmp/$sub" "$name"; else rm -rf "$tmp/.git"; mv "$tmp" "$name"; fi
	rm -rf "$tmp"
	echo "$name: $repo@$commit"
}

fetch sigma SigmaHQ/sigma 8eaafff
fetch evtx/hayabusa-sample-evtx Yamato-Security/hayabusa-sample-evtx 071da2e
fetch otrf/compound OTRF/Security-Datasets d9d40ef datasets/compound
fetch network/zeek brimdata/zed-sample-data 8da0758 zeek-ndjson
fetch network/suricata FrankHassanabad/suricata-sample-data 2d94c5d
fetch web/apache-scans ocatak/apache-http-logs 56348b7
fetch stix2-json-schemas oasis-open/cti-stix2-json-schemas 3bf9e69dc18dbbe995676c5dde027ead76e2b6fa

if [ ! -e sigma-regression-manifest.jsonl ]; then
	# One line per regression case: rule id, rule path, title, evtx, match_count.
	python3 - <<'PY' > sigma-regression-manifest.jsonl
import glob, json, os, yaml
rules = {}
for p in glob.glob("sigma/rules*/**/*.yml", recursive=True):
    try:
        for d in yaml.safe_load_all(open(p)):
            if d and "id" in d:
                rules[d["id"]] = (os.path.relpath(p, "sigma"), d)
    except Exception:
        pass
for info in sorted(glob.glob("sigma/regression_data/**/info.yml", recursive=True)):
    i = yaml.safe_load(open(info))
    for meta in i.get("rule_metadata", []):
        path, r = rules.get(meta["id"], (None, {}))
        for t in i.get("regression_tests_info", []):
            if t.get("type") != "evtx" or path is None:
                continue
            print(json.dumps({"rule_id": meta["id"], "rule_path": path, "title": r.get("title"), "status": r.get("status"),
                "level": r.get("level"), "logsource": r.get("logsource"), "test_type": "evtx", "evtx": t["path"],
                "json": t["path"][:-5] + ".json", "match_count": t.get("match_count")}))
PY
	echo "sigma-regression-manifest.jsonl: $(wc -l < sigma-regression-manifest.jsonl) cases"
fi
