package io.kubeless;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * The Java peer of the load benchmark: the same hello.java behind the JDK's own HttpServer
 * (50 threads, as upstream's Java runtime), with an upstream-shaped Event.
 *   java -cp CLASSES io.kubeless.JavaPeer PORT
 * (TCP_NODELAY is set here: without it every keep-alive response waits about 40 ms for the
 * client's delayed ACK.)
 */
public final class JavaPeer {
    public static void main(String[] args) throws Exception {
        System.setProperty("sun.net.httpserver.nodelay", "true");
        hello function = new hello();
        Context context = new Context("foo", "180", "java17", "0");
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 1024);
        server.createContext("/", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            Event event = new Event(new String(body, StandardCharsets.UTF_8), "", "", "", "");
            byte[] out = function.foo(event, context).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, out.length);
            exchange.getResponseBody().write(out);
            exchange.close();
        });
        server.setExecutor(Executors.newFixedThreadPool(50));
        server.start();
    }
}
