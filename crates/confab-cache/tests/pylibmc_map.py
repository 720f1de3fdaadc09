"""Where libmemcached puts keys: sets every key through a pylibmc client (libmemcached)
with the given behaviours and servers, then asks each server alone which keys it holds.

Usage: python3 pylibmc_map.py BEHAVIOURS_JSON SERVERS_JSON KEYS_FILE
Prints a JSON list: for each key, the index of the server that holds it (-1: none).
"""
import json
import sys

import pylibmc

behaviours = json.loads(sys.argv[1])
servers = json.loads(sys.argv[2])  # ["127.0.0.1:11311:weight", ...]
with open(sys.argv[3], encoding="utf-8") as f:
    keys = [line.rstrip("\n") for line in f]

names = [spec.rsplit(":", 1)[0] for spec in servers]
client = pylibmc.Client(servers, binary=False, behaviors=behaviours)
for i in range(0, len(keys), 500):
    failed = client.set_multi({k: "1" for k in keys[i : i + 500]})
    if failed:
        sys.exit(f"not stored: {failed[:3]}")

where = {}
for index, name in enumerate(names):
    alone = pylibmc.Client([name], binary=False)
    for i in range(0, len(keys), 500):
        for k in alone.get_multi(keys[i : i + 500]):
            if k in where:
                sys.exit(f"{k!r} is on two servers")
            where[k] = index
    alone.flush_all()
print(json.dumps([where.get(k, -1) for k in keys]))
