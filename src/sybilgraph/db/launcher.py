"""The local Neo4j 5.26 LTS + OpenGDS 2.13, built from Maven Central and run without Docker.

``launcher/`` is a small Maven project: an embedded Neo4j with Bolt on loopback, every jar
(GDS included) on the JVM classpath because GDS's kernel extension is only discovered there,
and the GDS jars again as a plugins directory so Neo4j registers their procedures. This module
builds it when needed, starts it in the background, waits until Bolt answers, and stops it with
SIGTERM so the store is closed cleanly.

Authentication is on: at its first start a random password is written into the home
(``<home>/neo4j/password``, mode 600). The launcher sets it on the ``neo4j`` user with Bolt
still closed (so nobody can log in with the default password meanwhile), and every command and
the test fixture read it from there (``Settings.neo4j_auth``).

Where it is built: the project ships inside the package (``sybilgraph._launcher``), so an
installed wheel can build it too. Its sources are copied into a cache directory named by their
content (``$XDG_CACHE_HOME/sybilgraph/launcher-<digest>``, default ``~/.cache``) and built
there once, under a file lock, for every checkout and install with the same sources.
``SYBILGRAPH_LAUNCHER_DIR`` names a Maven project to build in place instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sybilgraph.errors import LauncherError
from sybilgraph.settings import Settings

__all__ = ["LocalNeo4j", "LauncherState", "JVM_FLAGS", "pid_alive"]

log = logging.getLogger("sybilgraph.db")

# The module opens the stock Neo4j server passes to its JVM; embedded Neo4j needs them too.
JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
)

MAIN_CLASS = "io.sybilgraph.launcher.Launcher"


@dataclass(frozen=True)
class LauncherState:
    running: bool
    pid: int | None
    bolt_uri: str
    home: Path
    log_file: Path


class LocalNeo4j:
    """Build, start, stop and inspect the local Neo4j + GDS for one ``Settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.neo4j_home
        # The sources, and where they are built (the same directory for SYBILGRAPH_LAUNCHER_DIR).
        self.sources = settings.launcher_dir or packaged_sources()
        self.project = settings.launcher_dir or cache_dir() / f"launcher-{source_digest(self.sources)}"
        self.pid_file = self.home / "launcher.pid"
        self.log_file = self.home / "launcher.log"
        self.conf_file = self.home / "neo4j.conf"
        self.ready_file = self.home / "ready"

    # -- build -------------------------------------------------------------------------------
    @property
    def lib_dir(self) -> Path:
        return self.project / "target" / "lib"

    @property
    def plugins_dir(self) -> Path:
        return self.project / "target" / "plugins"

    @property
    def classes_dir(self) -> Path:
        return self.project / "target" / "classes"

    @property
    def launcher_jar(self) -> Path | None:
        """The launcher class packaged (class-data sharing takes jars only, not a directory)."""
        return next(iter(sorted(self.project.joinpath("target").glob("sybilgraph-neo4j-launcher-*.jar"))), None)

    @property
    def class_archive(self) -> Path:
        """The JVM's class-data-sharing archive of this build's classes, for this Java.

        Method: Java 17 dynamic AppCDS (JEP 350): the classes a server loaded, dumped when it
        stops, are mapped by the next JVM instead of being read from the jars and verified again
        (the start to Bolt answering: 4.3 s against 6.3-6.5 s measured side by side). Named by the
        build and the Java binary, so a rebuild or another Java writes a new one; a JVM that finds
        the archive unusable ignores it and loads classes as usual.
        """
        stamp = self.project / "target" / "build.stamp"
        key = f"{stamp.read_text() if stamp.is_file() else ''}|{os.path.realpath(self._java())}"
        return self.project / "target" / f"classes-{hashlib.sha256(key.encode()).hexdigest()[:12]}.jsa"

    def is_built(self) -> bool:
        stamp = self.project / "target" / "build.stamp"
        if not stamp.is_file() or not self.lib_dir.is_dir() or not self.plugins_dir.is_dir():
            return False
        sources = [self.project / "pom.xml", *self.project.joinpath("src").rglob("*")]
        return stamp.stat().st_mtime >= max(p.stat().st_mtime for p in sources)

    def build(self) -> None:
        """``mvn package``: downloads Neo4j and GDS from Maven Central the first time."""
        if self.is_built():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LauncherError("Maven ('mvn') is not on PATH; it is needed to build the local Neo4j")
        if not (self.sources / "pom.xml").is_file():
            raise LauncherError(f"launcher project not found at {self.sources}")
        with _exclusive(self.project.parent / f".{self.project.name}.lock"):
            if self.is_built():  # another process built it while we waited
                return
            if self.project != self.sources:
                _copy_sources(self.sources, self.project)
            log.info("building the local Neo4j + GDS launcher with Maven in %s (first time: downloads ~130 MB)",
                     self.project)
            proc = subprocess.run(
                [mvn, "-q", "-B", "package", "-DskipTests"],
                cwd=self.project,
                capture_output=True,
                text=True,
                env=self._java_env(),
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
                raise LauncherError(f"the Maven build of the launcher failed:\n{tail}")
            (self.project / "target" / "build.stamp").write_text(str(time.time()))

    # -- start / stop ------------------------------------------------------------------------
    def state(self) -> LauncherState:
        pid = self._read_pid()
        return LauncherState(
            running=pid is not None and pid_alive(pid),
            pid=pid,
            bolt_uri=self.settings.bolt_uri,
            home=self.home,
            log_file=self.log_file,
        )

    def start(self, wait: bool = True) -> LauncherState:
        # One starter at a time per home: commands started together (``serve`` beside ``ingest``)
        # each found nothing running and each spawned a JVM on the one store; the loser's
        # clean-up then stopped whichever server the pid file named.
        self.home.mkdir(parents=True, exist_ok=True)
        with _exclusive(self.home / "start.lock"):
            current = self.state()
            spawned = None if current.running else self._spawn()
        pid = current.pid if spawned is None else spawned
        if wait:
            try:
                self._wait_ready(pid)
            except BaseException:
                if spawned is not None:
                    self.stop(timeout_s=30)  # a start that failed leaves no JVM behind
                raise
        return self.state()

    def _spawn(self) -> int:
        """Start the JVM in the background and record its pid (the caller holds the start lock)."""
        if _port_open(self.settings.bolt_port):
            raise LauncherError(
                f"port {self.settings.bolt_port} is already in use by another process; "
                "set SYBILGRAPH_BOLT_PORT to a free port, or NEO4J_URI to use that server"
            )
        if self.settings.http_port and _port_open(self.settings.http_port):
            raise LauncherError(
                f"port {self.settings.http_port} (Neo4j's HTTP connector, which serves Neo4j Browser) is already in "
                "use by another process; set SYBILGRAPH_HTTP_PORT to a free port, or to 0 to turn it off"
            )
        self.build()
        self.ready_file.unlink(missing_ok=True)
        self.ensure_password()
        self._write_conf()
        jar = self.launcher_jar
        cmd = [
            self._java(),
            f"-Xmx{self.settings.heap}",
            f"-Xms{self.settings.heap}",
            *JVM_FLAGS,
            *(self._class_sharing() if jar is not None else ()),
            "-cp",
            f"{jar or self.classes_dir}{os.pathsep}{self.lib_dir / '*'}",
            MAIN_CLASS,
            str(self.home),
            str(self.conf_file),
        ]
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI that started it
                env=self._java_env(),
            )
        self.pid_file.write_text(str(proc.pid))
        log.info("started local Neo4j (pid %d), waiting for Bolt on %s", proc.pid, self.settings.bolt_uri)
        return proc.pid

    @contextmanager
    def stopped(self, timeout_s: float = 120.0) -> Iterator[None]:
        """The server stopped, and kept from starting by any process until the block ends: for work
        on its store (the bulk import replaces it). ``start`` afterwards."""
        self.home.mkdir(parents=True, exist_ok=True)
        with _exclusive(self.home / "start.lock"):
            self.stop(timeout_s)
            yield

    def stop(self, timeout_s: float = 120.0) -> bool:
        """SIGTERM, then wait for the store to close. True when something was stopped."""
        pid = self._read_pid()
        if pid is None or not pid_alive(pid):
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                break
            time.sleep(0.2)
        else:
            log.warning("Neo4j (pid %d) did not stop within %.0f s; killing it", pid, timeout_s)
            os.kill(pid, signal.SIGKILL)
            self.class_dump.unlink(missing_ok=True)  # perhaps cut short
        self.pid_file.unlink(missing_ok=True)
        self._keep_class_dump()
        return True

    # -- class-data sharing --------------------------------------------------------------------
    @property
    def class_dump(self) -> Path:
        """Where a server started without the archive dumps its classes when it stops (per home,
        so two homes starting at once never write one file)."""
        return self.home / "classes.jsa.tmp"

    def _class_sharing(self) -> list[str]:
        """JVM options: map the archive, or, when there is none yet, dump one at exit."""
        quiet = "-Xlog:cds*=off"  # the dump lists every class it skips; the archive is an optimisation
        archive = self.class_archive
        if archive.is_file():
            return [f"-XX:SharedArchiveFile={archive}", quiet]
        self.class_dump.unlink(missing_ok=True)
        return [f"-XX:ArchiveClassesAtExit={self.class_dump}", quiet]

    def _keep_class_dump(self) -> None:
        """A dump the stopped JVM completed becomes the archive, by a rename in the build's
        directory (a JVM starting meanwhile maps the old file or the whole new one). An archive
        that cannot be kept (a read-only build) only costs the next start its classes."""
        dump = self.class_dump
        if not dump.is_file() or self.launcher_jar is None:
            return
        archive = self.class_archive
        partial = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
        try:
            if dump.stat().st_size:
                shutil.copyfile(dump, partial)  # the home may be on another file system
                os.replace(partial, archive)
        except OSError as e:
            log.info("class-data archive not kept (%s); the next start loads its classes from the jars", e)
            partial.unlink(missing_ok=True)
        finally:
            dump.unlink(missing_ok=True)

    # -- internals ---------------------------------------------------------------------------
    def _write_conf(self) -> None:
        s = self.settings
        lines = {
            "server.bolt.enabled": "true",
            "server.bolt.listen_address": f"127.0.0.1:{s.bolt_port}",
            "server.bolt.tls_level": "DISABLED",
            # Loopback only, and still authenticated: other local users and web pages reaching
            # Bolt over WebSocket must not read the PII-bearing graph.
            "dbms.security.auth_enabled": "true",
            "server.directories.plugins": str(self.plugins_dir),
            "dbms.security.procedures.unrestricted": "gds.*",
            "server.memory.pagecache.size": s.pagecache,
            "db.tx_log.rotation.retention_policy": "2 files",
            **self._http_conf(),
        }
        self.conf_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))

    def _http_conf(self) -> dict[str, str]:
        """The HTTP connector on loopback, serving Neo4j Browser at /browser/; Browser reaches Bolt
        at the advertised address. Remote guides only from loopback and no telemetry: an
        investigation network may reach nothing (Browser's own requests for web fonts and
        analytics then fail, and it works on: docs/bloom.md)."""
        s = self.settings
        if not s.http_port:
            return {"server.http.enabled": "false"}
        return {
            "server.http.enabled": "true",
            "server.http.listen_address": f"127.0.0.1:{s.http_port}",
            "server.http.advertised_address": f"127.0.0.1:{s.http_port}",
            "server.https.enabled": "false",
            "server.bolt.advertised_address": f"127.0.0.1:{s.bolt_port}",
            "browser.remote_content_hostname_whitelist": "127.0.0.1",
            "client.allow_telemetry": "false",
        }

    def _wait_ready(self, pid: int | None) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if pid is not None and not pid_alive(pid):
                raise LauncherError(
                    f"the local Neo4j exited during start-up; last lines of {self.log_file}:\n"
                    + self._log_tail()
                )
            if self.ready_file.exists() and _port_open(self.settings.bolt_port):
                return
            time.sleep(0.25)
        raise LauncherError(
            f"the local Neo4j did not answer on {self.settings.bolt_uri} within "
            f"{self.settings.start_timeout_s:.0f} s; see {self.log_file}"
        )

    def _log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _java(self) -> str:
        home = self.settings.java_home or (Path(os.environ["JAVA_HOME"]) if "JAVA_HOME" in os.environ else None)
        if home is not None and (home / "bin" / "java").is_file():
            return str(home / "bin" / "java")
        java = shutil.which("java")
        if java is None:
            raise LauncherError("no Java found: install Java 17 or set SYBILGRAPH_JAVA_HOME")
        return java

    def _java_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.settings.java_home is not None:
            env["JAVA_HOME"] = str(self.settings.java_home)
        # Launcher.java sets this password on the neo4j user (a path: no secret in the environment).
        env["SYBILGRAPH_PASSWORD_FILE"] = str(self.password_file)
        return env

    @property
    def password_file(self) -> Path:
        return self.settings.local_password_file

    def ensure_password(self) -> Path:
        """The password file, created with a random password (mode 600) when missing."""
        path = self.password_file
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            os.chmod(path, 0o600)
            return path
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(24) + "\n")
        log.info("generated the local Neo4j's password in %s", path)
        return path

    def describe(self) -> str:
        return json.dumps({"home": str(self.home), "bolt": self.settings.bolt_uri})


def packaged_sources() -> Path:
    """The launcher's Maven project as shipped in the package (the checkout's launcher/ when editable)."""
    return Path(os.fspath(resources.files("sybilgraph._launcher")))  # type: ignore[arg-type]


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sybilgraph"


def _source_files(root: Path) -> list[Path]:
    return sorted([root / "pom.xml", *(p for p in root.joinpath("src").rglob("*") if p.is_file())])


def source_digest(root: Path) -> str:
    """Content digest of the project's sources: a new digest (new directory) whenever they change."""
    h = hashlib.sha256()
    for path in _source_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _copy_sources(source: Path, project: Path) -> None:
    for path in _source_files(source):
        target = project / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One holder at a time of ``lock_file``, across processes: one build per directory, one start per
    home (a second waits, then finds it built or started)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (not yet reaped) still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
