#!/usr/bin/env python3
"""Check a cablekeep proof (cablekeep-proof/1, docs/FORMAT.md section 9) without cablekeep.

Needs Python 3 and OpenSSH's ssh-keygen (and openssl for --tsa-ca). Usage:

    check-proof.py PROOF ALLOWED_SIGNERS [FILE...] [--tsa-ca CA.pem]

Checks that the checkpoint is signed by a key of ALLOWED_SIGNERS (ssh-keygen -Y verify), that the
audit path leads from the manifest lines to the checkpoint's root (RFC 9162 section 2.1), that
each FILE's SHA-256 is the digest of a proven line and, with --tsa-ca, that the proof's timestamp
is a trusted TSA's over the checkpoint (openssl ts -verify). Exit 0: the proof holds; 1: it does
not (the reasons are printed with cablekeep's finding codes); 2: it could not be checked.
"""
import base64
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile

NAMESPACE = "cablekeep-checkpoint"


def leaf_hash(data):  # RFC 9162 section 2.1
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_multi_path(size, leaves, path):
    """The root the hashes of `path` lead to from (index, leaf hash) pairs (FORMAT.md 9.4)."""
    known = sorted(leaves)
    indices = [i for i, _ in known]
    if not known or len(set(indices)) != len(indices) or indices[-1] >= size:
        return None
    path, width = list(path), size
    while width > 1:
        nxt, j = [], 0
        while j < len(known):
            i, h = known[j]
            if i % 2 == 1:
                if not path:
                    return None
                parent = node_hash(path.pop(0), h)
            elif i + 1 >= width:
                parent = h
            elif j + 1 < len(known) and known[j + 1][0] == i + 1:
                parent = node_hash(h, known[j + 1][1])
                j += 1
            else:
                if not path:
                    return None
                parent = node_hash(h, path.pop(0))
            nxt.append((i // 2, parent))
            j += 1
        known, width = nxt, (width + 1) // 2
    return known[0][1] if not path and len(known) == 1 else None


def parse_checkpoint(text):
    lines = text.split("\n")
    if len(lines) < 8 or lines[-1] != "":
        raise ValueError("the checkpoint is not 7 or 8 lines ended by line feeds")
    fields = dict(line.split(" ", 1) for line in lines[3:-1])
    return {"origin": lines[0], "size": int(lines[1]), "version": int(fields["cablekeep-version"]),
            "root": base64.b64decode(lines[2], validate=True)}


def trusted_signers(checkpoint, signatures, allowed):
    """The principals of ALLOWED_SIGNERS whose signature over the checkpoint verifies."""
    found, problems = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n, sig in enumerate(signatures):
            sig_path = os.path.join(tmp, "sig%d" % n)
            pathlib.Path(sig_path).write_text(sig["signature"])
            who = subprocess.run(["ssh-keygen", "-Y", "find-principals", "-s", sig_path,
                                  "-f", allowed], capture_output=True, text=True)
            principals = who.stdout.split()
            if who.returncode != 0 or not principals:
                problems.append(("S003", "signature %s: its key is not in the allowed signers"
                                 % sig.get("key_id")))
                continue
            check = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", allowed, "-I",
                                    principals[0], "-n", NAMESPACE, "-s", sig_path],
                                   input=checkpoint.encode(), capture_output=True)
            if check.returncode == 0:
                found.append(principals[0])
            else:
                problems.append(("S002", "signature %s does not verify over the checkpoint"
                                 % sig.get("key_id")))
    return found, problems


def check_timestamp(proof, ca):
    """`openssl ts -verify` of the proof's timestamp over its checkpoint (FORMAT.md 9.5)."""
    with tempfile.TemporaryDirectory() as tmp:
        data, tsr = os.path.join(tmp, "checkpoint"), os.path.join(tmp, "checkpoint.tsr")
        pathlib.Path(data).write_bytes(proof["checkpoint"].encode())
        pathlib.Path(tsr).write_bytes(base64.b64decode(proof["timestamp"], validate=True))
        out = subprocess.run(["openssl", "ts", "-verify", "-data", data, "-in", tsr, "-CAfile",
                              ca], capture_output=True, text=True)
    said = (out.stdout + out.stderr).strip()
    if out.returncode == 0 and "Verification: OK" in said:
        return []
    code = "S021" if "imprint mismatch" in said else "S023" if "certificate" in said else "S022"
    return [(code, "openssl ts -verify refuses the timestamp: %s" % said.splitlines()[-1])]


def check(proof, allowed, files, ca):
    problems = []
    checkpoint = parse_checkpoint(proof["checkpoint"])
    collection = checkpoint["origin"].rsplit("cablekeep/", 1)[-1]
    if (collection, checkpoint["version"]) != (proof["collection"], proof["version"]):
        problems.append(("S014", "the proof says %s@v%s, its checkpoint is of %s@v%s" % (
            proof["collection"], proof["version"], collection, checkpoint["version"])))
    if proof["tree_size"] != checkpoint["size"]:
        problems.append(("S012", "tree size %s is not the checkpoint's %s"
                         % (proof["tree_size"], checkpoint["size"])))
    signers, sig_problems = trusted_signers(proof["checkpoint"], proof["signatures"], allowed)
    # A cosignature by an unknown key takes nothing from a trusted one.
    problems += [p for p in sig_problems if not (signers and p[0] == "S003")]
    if not signers:
        problems.append(("S015", "no signature by an allowed signer"))
    prefix = "data/cables/%s/" % proof["cable"]
    digests, leaves = set(), []
    for f in proof["files"]:
        digest, _, path = f["line"].partition("  ")
        digests.add(digest)
        if not path.startswith(prefix):
            problems.append(("S014", "%s is not a file of cable %s" % (path, proof["cable"])))
        leaves.append((f["index"], leaf_hash(f["line"].encode())))
    joined = base64.b64decode(proof["audit_path"], validate=True)
    if len(joined) % 32:
        raise ValueError("the audit path is not 32-byte hashes")
    hashes = [joined[i:i + 32] for i in range(0, len(joined), 32)]
    if root_from_multi_path(checkpoint["size"], leaves, hashes) != checkpoint["root"]:
        problems.append(("S011", "the audit path does not lead from the files to the root"))
    for name in files:
        if hashlib.sha256(pathlib.Path(name).read_bytes()).hexdigest() not in digests:
            problems.append(("S013", "%s: its bytes are not among the proven files" % name))
    if ca and proof.get("timestamp"):
        problems += check_timestamp(proof, ca)
    return signers, problems


def main(argv):
    at = argv.index("--tsa-ca") if "--tsa-ca" in argv[:-1] else None
    ca, argv = (argv[at + 1], argv[:at] + argv[at + 2:]) if at else (None, argv)
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        with open(argv[1], "rb") as f:
            proof = json.loads(f.read(1 << 20))
        if proof.get("format") != "cablekeep-proof/1":
            raise ValueError("not a cablekeep-proof/1")
        signers, problems = check(proof, argv[2], argv[3:], ca)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("S010 %s: the proof cannot be read: %s" % (argv[1], e))
        return 1 if not isinstance(e, OSError) else 2
    for code, message in problems:
        print("%s %s: %s" % (code, argv[1], message))
    if problems:
        print("DOES NOT HOLD: %s" % argv[1])
        return 1
    print("holds: %s in %s@v%s: %d files proven, signed by %s" % (
        proof["cable"], proof["collection"], proof["version"], len(proof["files"]),
        ", ".join(signers)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
