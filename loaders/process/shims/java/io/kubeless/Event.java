package io.kubeless;

/**
 * The event a Kubeless Java function receives, with upstream's package-private fields
 * ({@code event.Data}, ...). fnhost adds {@code Extensions}: the HTTP request and the response
 * whose status and headers the function may set.
 */
public class Event {
    String Data;
    String EventID;
    String EventType;
    String EventTime;
    String EventNamespace;
    Extensions Extensions;

    public Event(String data, String eventId, String eventType, String eventTime, String eventNamespace) {
        this(data, eventId, eventType, eventTime, eventNamespace, new Extensions(null, new Response()));
    }

    public Event(String data, String eventId, String eventType, String eventTime, String eventNamespace,
            Extensions extensions) {
        this.Data = data;
        this.EventID = eventId;
        this.EventType = eventType;
        this.EventTime = eventTime;
        this.EventNamespace = eventNamespace;
        this.Extensions = extensions;
    }

    /** fnhost's additions: the request and the response. */
    public static class Extensions {
        public final Request Request;
        public final Response Response;

        public Extensions(Request request, Response response) {
            this.Request = request;
            this.Response = response;
        }
    }

    /** The HTTP request: method, path, query string and headers (lower-case names). */
    public static class Request {
        public final String method;
        public final String path;
        public final String query;
        public final java.util.List<String[]> headers;

        public Request(String method, String path, String query, java.util.List<String[]> headers) {
            this.method = method;
            this.path = path;
            this.query = query;
            this.headers = headers;
        }

        /** The first value of a header, or null. */
        public String header(String name) {
            for (String[] h : headers) {
                if (h[0].equalsIgnoreCase(name)) {
                    return h[1];
                }
            }
            return null;
        }

        /** The first value of a query parameter, or null. */
        public String queryParameter(String name) {
            for (String pair : query.split("&")) {
                String[] kv = pair.split("=", 2);
                if (java.net.URLDecoder.decode(kv[0], java.nio.charset.StandardCharsets.UTF_8).equals(name)) {
                    return kv.length > 1 ? java.net.URLDecoder.decode(kv[1], java.nio.charset.StandardCharsets.UTF_8) : "";
                }
            }
            return null;
        }
    }

    /** What the function may set besides its return value: status and headers. */
    public static class Response {
        private int status = 200;
        private final java.util.List<String[]> headers = new java.util.ArrayList<>();

        public Response setStatus(int status) {
            this.status = status;
            return this;
        }

        public int getStatus() {
            return status;
        }

        /** Adds a header (repeat it for several values). */
        public Response addHeader(String name, String value) {
            headers.add(new String[] {name, value});
            return this;
        }

        /** Replaces every value of a header. */
        public Response setHeader(String name, String value) {
            headers.removeIf(h -> h[0].equalsIgnoreCase(name));
            return addHeader(name, value);
        }

        public java.util.List<String[]> getHeaders() {
            return headers;
        }
    }
}
