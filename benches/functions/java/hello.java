package io.kubeless;

/** The Java hello world of the load benchmark. */
public class hello {
    public String foo(io.kubeless.Event event, io.kubeless.Context context) {
        return "hello world";
    }
}
