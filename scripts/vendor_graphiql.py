#!/usr/bin/env python3
"""Vendor GraphiQL into the package so the API serves it with no network: ``python scripts/vendor_graphiql.py``.

Downloads the pinned npm packages with ``npm pack`` (npm checks each tarball against the
registry's integrity hash; this script checks it again against the pin below), takes the
browser builds GraphiQL needs (its bundle and CSS, React and ReactDOM UMD builds) and their
licence files, and writes them (the code gzip-compressed, the licences as text) to ``src/sybilgraph/api/static/graphiql/`` with
``manifest.json`` (versions, integrity, SHA-256 of every file as served). The result is
committed: installs and CI need no npm and no network, and ``tests/api/test_graphiql_offline.py``
checks the files against the manifest. Run again only to move to another pinned version.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "src" / "sybilgraph" / "api" / "static" / "graphiql"

# package -> (version, npm "dist.integrity", files to take: tarball path -> served name)
PINS: dict[str, tuple[str, str, dict[str, str]]] = {
    "graphiql": ("3.8.3", "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==", {
        "package/graphiql.min.js": "graphiql.min.js",
        "package/graphiql.min.css": "graphiql.min.css",
        "package/LICENSE": "LICENSE.graphiql.txt",
    }),
    "react": ("18.2.0", "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==", {
        "package/umd/react.production.min.js": "react.production.min.js",
        "package/LICENSE": "LICENSE.react.txt",
    }),
    "react-dom": ("18.2.0", "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==", {
        "package/umd/react-dom.production.min.js": "react-dom.production.min.js",
        "package/LICENSE": "LICENSE.react-dom.txt",
    }),
}


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _pack(package: str, version: str, work: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is needed to vendor GraphiQL (it is not needed to run sybilgraph)")
    out = subprocess.run([npm, "pack", f"{package}@{version}", "--silent"], cwd=work, capture_output=True, text=True, check=True)
    return work / out.stdout.strip().splitlines()[-1]


def _bundled_packages(bundle: bytes) -> list[str]:
    names = re.findall(rb"node_modules/((?:@[a-z0-9-]+/)?[a-z0-9._-]+)", bundle)
    return sorted({n.decode() for n in names})


def main() -> int:
    manifest: dict[str, object] = {"served_at": "/graphql/static/", "packages": {}, "files": {}}
    shutil.rmtree(TARGET, ignore_errors=True)
    TARGET.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="sybilgraph-vendor-") as tmp:
        for package, (version, integrity, files) in PINS.items():
            tarball = _pack(package, version, Path(tmp))
            got = _integrity(tarball.read_bytes())
            if got != integrity:
                sys.exit(f"{package}@{version}: integrity {got} does not match the pin {integrity}")
            manifest["packages"][package] = {"version": version, "integrity": integrity}  # type: ignore[index]
            with tarfile.open(tarball) as tar:
                for member, served in files.items():
                    extracted = tar.extractfile(member)
                    assert extracted is not None, f"{package}: {member} missing from the tarball"
                    data = extracted.read()
                    if served == "graphiql.min.js":
                        manifest["bundled_in_graphiql"] = _bundled_packages(data)
                    if served.endswith(".txt"):  # licences stay readable in the repository
                        (TARGET / served).write_bytes(data)
                    else:  # served compressed as they are stored (Content-Encoding: gzip)
                        (TARGET / f"{served}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
                    manifest["files"][served] = {"package": package, "sha256": hashlib.sha256(data).hexdigest(),  # type: ignore[index]
                                                 "bytes": len(data)}
    (TARGET / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    (TARGET / "NOTICE.txt").write_text(
        "GraphiQL, React and ReactDOM, vendored from npm by scripts/vendor_graphiql.py (versions and\n"
        "integrity hashes in manifest.json). Each is MIT-licensed; its licence is the LICENSE.<package>.txt\n"
        "file beside this one. graphiql.min.js is GraphiQL's own browser bundle and includes the packages\n"
        "listed under bundled_in_graphiql in manifest.json, each under its own open-source licence as\n"
        "published with it on npm.\n"
    )
    print(f"vendored {', '.join(f'{p}@{v[0]}' for p, v in PINS.items())} into {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
