package io.sybilgraph.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * Starts an embedded Neo4j with Bolt on loopback and the OpenGDS extension on the classpath.
 *
 * <p>Usage: {@code Launcher HOME CONF_FILE}. The conf file holds {@code neo4j.conf}-style
 * {@code key=value} lines, applied verbatim, so every Neo4j setting stays reachable without
 * changing this class. A {@code ready} file is written into HOME once the default database
 * answers, and removed on a clean shutdown (SIGTERM), which closes the store so the next start
 * needs no recovery.
 *
 * <p>When {@code SYBILGRAPH_PASSWORD_FILE} names a file, its content becomes the password of the
 * {@code neo4j} user before any connector opens: at the first start (or after the file changed)
 * the DBMS is started once with every connector closed, the password is set, and it is stopped
 * again, so the default password is never reachable over the network.
 */
public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Launcher HOME CONF_FILE");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Path conf = Path.of(args[1]).toAbsolutePath();
        Map<String, String> settings = readSettings(conf);
        Path readyFile = home.resolve("ready");
        Files.deleteIfExists(readyFile);
        String passwordFile = System.getenv("SYBILGRAPH_PASSWORD_FILE");
        if (passwordFile != null && !passwordFile.isEmpty()) {
            applyPassword(home, conf, Path.of(passwordFile));
        }

        DatabaseManagementService dbms =
                new DatabaseManagementServiceBuilder(home).loadPropertiesFromFile(conf).build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                Files.deleteIfExists(readyFile);
            } catch (IOException ignored) {
                // The ready file is advisory; a stale one is overwritten at the next start.
            }
            dbms.shutdown();
            stopped.countDown();
        }, "sybilgraph-shutdown"));

        GraphDatabaseService db = dbms.database("neo4j");
        db.executeTransactionally("RETURN 1");
        Files.writeString(readyFile, settings.getOrDefault("server.bolt.listen_address", "") + "\n",
                StandardCharsets.UTF_8);
        System.out.println("sybilgraph-launcher: ready, bolt " + settings.get("server.bolt.listen_address"));
        System.out.flush();
        stopped.await();
    }

    /** Sets the neo4j user's password from the file, connectors closed; skipped when already applied. */
    private static void applyPassword(Path home, Path conf, Path passwordFile) throws Exception {
        String password = Files.readString(passwordFile, StandardCharsets.UTF_8).strip();
        Path applied = home.resolve("password.applied"); // a digest of the password last set
        String digest = HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(password.getBytes(StandardCharsets.UTF_8)));
        if (Files.exists(applied) && Files.readString(applied, StandardCharsets.UTF_8).strip().equals(digest)) {
            return;
        }
        DatabaseManagementService closed = new DatabaseManagementServiceBuilder(home)
                .loadPropertiesFromFile(conf)
                .setConfig(BoltConnector.enabled, false)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .build();
        try {
            closed.database("system").executeTransactionally(
                    "ALTER USER neo4j SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            // The same password again (the digest file was lost) is refused as "the same": it is set.
            if (!String.valueOf(e.getMessage()).contains("the same")) {
                throw e;
            }
        } finally {
            closed.shutdown();
        }
        Files.writeString(applied, digest + "\n", StandardCharsets.UTF_8);
        System.out.println("sybilgraph-launcher: password of user neo4j set from " + passwordFile);
    }

    private static Map<String, String> readSettings(Path conf) throws IOException {
        Map<String, String> settings = new LinkedHashMap<>();
        for (String raw : Files.readAllLines(conf, StandardCharsets.UTF_8)) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("bad setting line in " + conf + ": " + raw);
            }
            settings.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
        }
        return settings;
    }
}
