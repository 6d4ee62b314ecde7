#!/usr/bin/env python3
"""Drive the SLIP-0039 reference implementation (python-shamir-mnemonic) for
baton's interoperability tests (crates/baton/tests/slip39_interop.rs).

Reads one JSON job from stdin and writes one JSON answer to stdout, so a whole
test run costs a single interpreter start-up.

Jobs:
  {"op": "split", "cases": [{"secret_hex", "passphrase", "group_threshold",
      "groups": [[t, n], ...], "extendable", "iteration_exponent"}, ...]}
    -> {"results": [{"groups": [[mnemonic, ...], ...]} | {"error": msg}, ...]}
  {"op": "combine", "cases": [{"mnemonics": [...], "passphrase"}, ...]}
    -> {"results": [{"secret_hex": hex} | {"error": msg}, ...]}
  {"op": "batch", "jobs": [job, ...]}
    -> {"results": [answer, ...]}

Passphrases are strings of printable ASCII, as SLIP-0039 requires. A failure of
one case is reported in its result so the caller can expect errors; a malformed
job exits with status 2.
"""

import json
import sys

try:
    import shamir_mnemonic
except ImportError:
    print("shamir_mnemonic is not installed in this interpreter", file=sys.stderr)
    sys.exit(3)


def split(case):
    groups = [(int(t), int(n)) for t, n in case["groups"]]
    mnemonics = shamir_mnemonic.generate_mnemonics(
        group_threshold=int(case["group_threshold"]),
        groups=groups,
        master_secret=bytes.fromhex(case["secret_hex"]),
        passphrase=case.get("passphrase", "").encode("ascii"),
        extendable=bool(case.get("extendable", True)),
        iteration_exponent=int(case.get("iteration_exponent", 0)),
    )
    return {"groups": mnemonics}


def combine(case):
    secret = shamir_mnemonic.combine_mnemonics(
        case["mnemonics"], case.get("passphrase", "").encode("ascii")
    )
    return {"secret_hex": secret.hex()}


OPS = {"split": split, "combine": combine}


def run(job):
    op = job.get("op")
    if op == "batch":
        return {"results": [run(sub) for sub in job["jobs"]]}
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}")
    results = []
    for case in job["cases"]:
        try:
            results.append(OPS[op](case))
        except (shamir_mnemonic.MnemonicError, ValueError) as e:
            results.append({"error": str(e)})
    return {"results": results}


def main():
    try:
        job = json.load(sys.stdin)
        answer = run(job)
    except (KeyError, TypeError, ValueError) as e:
        print(f"malformed job: {e}", file=sys.stderr)
        sys.exit(2)
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
