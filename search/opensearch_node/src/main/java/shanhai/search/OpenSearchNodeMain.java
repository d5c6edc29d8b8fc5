package shanhai.search;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Runs one OpenSearch node inside this JVM, with the modules below loaded as classpath plugins.
 *
 * <p>Usage: {@code OpenSearchNodeMain DATA_DIR HTTP_PORT [-Ekey=value ...]}. Binds 127.0.0.1 only.
 * {@code org.opensearch.bootstrap.Bootstrap} (bootstrap checks, security manager, JNA natives) is not
 * used: {@link Node#start()} is called directly, as OpenSearch's own test framework does.
 * Stops cleanly on SIGTERM (shutdown hook closes the node).
 */
public final class OpenSearchNodeMain {

    private static final List<Class<? extends Plugin>> PLUGINS = List.of(
        Netty4Plugin.class,          // transport-netty4: HTTP and transport
        CommonAnalysisPlugin.class,  // analysis-common: whitespace, edge_ngram, cjk, synonym, ...
        PainlessPlugin.class,        // lang-painless
        MapperExtrasPlugin.class,    // mapper-extras: scaled_float, search_as_you_type, ...
        ReindexPlugin.class          // reindex, update_by_query, delete_by_query
    );

    private static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment env) {
            super(env, PLUGINS, true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: OpenSearchNodeMain DATA_DIR HTTP_PORT [-Ekey=value ...]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath().normalize();
        String port = args[1];
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));

        Settings.Builder builder = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "shanhai-test")
            .put("node.name", "node-1")
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("discovery.type", "single-node")
            // a test node: no disk-watermark surprises, and green health with one node
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("cluster.default_number_of_replicas", 0) // see below: applied after start
            .put("action.destructive_requires_name", false);
        for (int i = 2; i < args.length; i++) {
            String a = args[i];
            int eq = a.indexOf('=');
            if (!a.startsWith("-E") || eq < 0) {
                System.err.println("bad argument (want -Ekey=value): " + a);
                System.exit(2);
            }
            builder.put(a.substring(2, eq), a.substring(eq + 1));
        }
        Settings settings = builder.build();

        Path config = home.resolve("config");
        Files.createDirectories(config);
        Path log4j = config.resolve("log4j2.properties");
        if (Files.notExists(log4j)) {
            try (InputStream in = OpenSearchNodeMain.class.getResourceAsStream("log4j2.properties")) {
                Files.copy(in, log4j);
            }
        }

        LogConfigurator.registerErrorListener();
        Environment env = InternalSettingsPreparer.prepareEnvironment(
            settings, Collections.emptyMap(), config, () -> settings.get("node.name"));
        LogConfigurator.setNodeName(settings.get("node.name"));
        LogConfigurator.configure(env);
        Node node = new EmbeddedNode(env);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "opensearch-shutdown"));

        node.start();
        // cluster.default_number_of_replicas is read from the cluster metadata, not from node settings:
        // persist it so indices created without number_of_replicas are green on this single node.
        node.client().admin().cluster().prepareUpdateSettings()
            .setPersistentSettings(Settings.builder().put("cluster.default_number_of_replicas",
                settings.getAsInt("cluster.default_number_of_replicas", 0)))
            .get();
        // OpenSearch's threads are daemon threads: keep the JVM alive until SIGTERM.
        stopped.await();
    }
}
