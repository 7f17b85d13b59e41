package io.kubeless;

/** The respawn benchmark's function: ?mode=busy loops until fnhost kills the worker. */
public class spin {
    public String handler(io.kubeless.Event event, io.kubeless.Context context) {
        if ("busy".equals(event.Extensions.Request.queryParameter("mode"))) {
            long n = 0;
            while (n >= 0) {
                n = (n + 1) % 1000;
            }
        }
        return "ok";
    }
}
