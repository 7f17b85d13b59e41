package io.kubeless;

import java.io.EOFException;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * fnhost's Java worker: loads the Kubeless Java function {@code io.kubeless.<MOD_NAME>} with its
 * method {@code <FUNC_HANDLER>(Event, Context)} unchanged and serves calls from fnhost over the
 * worker protocol (docs/worker-protocol.md), on a pool of threads. Started by fnhost as
 * {@code java -cp ... io.kubeless.FnhostWorker} with FNHOST_WORKER_SOCKET, MOD_NAME,
 * FUNC_HANDLER, FUNC_TIMEOUT, FUNC_RUNTIME and FUNC_MEMORY_LIMIT in the environment.
 */
public final class FnhostWorker {
    private static final int READY = 1;
    private static final int CALL = 2;
    private static final int RESULT = 3;

    private final SocketChannel channel;
    private final Object function;
    private final Method method;
    private final Context context;

    private FnhostWorker(SocketChannel channel, Object function, Method method, Context context) {
        this.channel = channel;
        this.function = function;
        this.method = method;
        this.context = context;
    }

    public static void main(String[] args) throws Exception {
        String module = System.getenv("MOD_NAME");
        String handler = System.getenv("FUNC_HANDLER");
        Object function;
        Method method;
        try {
            Class<?> cls = Class.forName("io.kubeless." + module);
            method = cls.getMethod(handler, Event.class, Context.class);
            function = cls.getDeclaredConstructor().newInstance();
        } catch (ClassNotFoundException e) {
            System.err.println("Class: io.kubeless." + module + " not found (function " + module + "." + handler + ")");
            System.exit(1);
            return;
        } catch (NoSuchMethodException e) {
            System.err.println("Method: " + handler + "(io.kubeless.Event, io.kubeless.Context) not found in io.kubeless."
                    + module + " (function " + module + "." + handler + ")");
            System.exit(1);
            return;
        }
        Context context = functionContext();
        int threads = Integer.parseInt(System.getenv().getOrDefault("FNHOST_WORKER_CONCURRENCY", "16"));
        SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(System.getenv("FNHOST_WORKER_SOCKET")));
        new FnhostWorker(channel, function, method, context).serve(threads);
    }

    private void serve(int threads) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "fnhost-call");
            t.setDaemon(true);
            return t;
        });
        String description = "java " + System.getProperty("java.version") + " pid " + ProcessHandle.current().pid();
        send(READY, 0, "{\"protocol\":2,\"concurrency\":" + threads + ",\"description\":" + FnhostJson.quote(description) + "}",
                new byte[0]);
        while (true) {
            ByteBuffer frame;
            try {
                frame = readFrame();
            } catch (EOFException e) {
                System.exit(0);
                return;
            }
            int kind = frame.get() & 0xff;
            long id = frame.getLong();
            byte[] header = new byte[frame.getInt()];
            frame.get(header);
            byte[] body = new byte[frame.remaining()];
            frame.get(body);
            if (kind == CALL) {
                pool.execute(() -> call(id, new String(header, StandardCharsets.UTF_8), body));
            }
        }
    }

    /** fnhost's one context (FNHOST_CONTEXT), with the timeout as text like FUNC_TIMEOUT ("180"). */
    @SuppressWarnings("unchecked")
    private static Context functionContext() {
        Map<String, Object> given = (Map<String, Object>) FnhostJson.parse(System.getenv("FNHOST_CONTEXT"));
        double seconds = ((Number) given.get("timeout")).doubleValue();
        String timeout = seconds == Math.rint(seconds) ? Long.toString((long) seconds) : Double.toString(seconds);
        return new Context((String) given.get("function-name"), timeout, (String) given.get("runtime"),
                (String) given.get("memory-limit"));
    }

    @SuppressWarnings("unchecked")
    private void call(long id, String headerText, byte[] body) {
        try {
            Map<String, Object> header = (Map<String, Object>) FnhostJson.parse(headerText);
            Map<String, Object> ev = (Map<String, Object>) header.get("event");
            List<String[]> headers = new ArrayList<>();
            for (Object pair : (List<Object>) header.get("headers")) {
                List<Object> p = (List<Object>) pair;
                headers.add(new String[] {(String) p.get(0), (String) p.get(1)});
            }
            Event.Request request = new Event.Request((String) header.get("method"), (String) header.get("path"),
                    (String) header.get("query"), headers);
            Event.Response response = new Event.Response();
            Event event = new Event(new String(body, StandardCharsets.UTF_8), text(ev.get("id")), text(ev.get("type")),
                    text(ev.get("time")), text(ev.get("namespace")), new Event.Extensions(request, response));
            Object value = method.invoke(function, event, context);
            // Upstream's runtime logged every response (log4j's BasicConfigurator layout);
            // its own tests read the function's answer from the container log.
            System.out.println(Thread.currentThread().getName() + " INFO io.kubeless.Handler  - Response: " + value);
            byte[] out = value == null ? new byte[0] : String.valueOf(value).getBytes(StandardCharsets.UTF_8);
            send(RESULT, id, resultHeader(response), out);
        } catch (Throwable t) {
            Throwable cause = t instanceof InvocationTargetException && t.getCause() != null ? t.getCause() : t;
            java.io.StringWriter trace = new java.io.StringWriter();
            cause.printStackTrace(new java.io.PrintWriter(trace));
            try {
                send(RESULT, id, "{\"error\":" + FnhostJson.quote("Function failed to execute: " + trace) + "}", new byte[0]);
            } catch (IOException e) {
                System.exit(0);
            }
        }
    }

    /** Missing event headers are "" as upstream's. */
    private static String text(Object value) {
        return value == null ? "" : (String) value;
    }

    private static String resultHeader(Event.Response response) {
        StringBuilder out = new StringBuilder("{\"status\":").append(response.getStatus()).append(",\"headers\":[");
        String separator = "";
        for (String[] h : response.getHeaders()) {
            out.append(separator).append('[').append(FnhostJson.quote(h[0])).append(',').append(FnhostJson.quote(h[1])).append(']');
            separator = ",";
        }
        return out.append("]}").toString();
    }

    private ByteBuffer readFrame() throws IOException {
        ByteBuffer length = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        fill(length);
        ByteBuffer frame = ByteBuffer.allocate(length.getInt(0)).order(ByteOrder.LITTLE_ENDIAN);
        fill(frame);
        return frame;
    }

    private void fill(ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new EOFException();
            }
        }
        buffer.flip();
    }

    private void send(int kind, long id, String header, byte[] body) throws IOException {
        byte[] headerBytes = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer frame = ByteBuffer.allocate(17 + headerBytes.length + body.length).order(ByteOrder.LITTLE_ENDIAN);
        frame.putInt(13 + headerBytes.length + body.length).put((byte) kind).putLong(id).putInt(headerBytes.length);
        frame.put(headerBytes).put(body).flip();
        synchronized (channel) {
            while (frame.hasRemaining()) {
                channel.write(frame);
            }
        }
    }
}
