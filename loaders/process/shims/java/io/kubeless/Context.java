package io.kubeless;

/** The function's description, with upstream's package-private fields (raw env strings). */
public class Context {
    String functionName;
    String timeout;
    String runtime;
    String memoryLimit;

    public Context(String functionName, String timeout, String runtime, String memoryLimit) {
        this.functionName = functionName;
        this.timeout = timeout;
        this.runtime = runtime;
        this.memoryLimit = memoryLimit;
    }
}
