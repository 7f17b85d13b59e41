using System.Threading.Tasks;
using Kubeless.Functions;

// The respawn benchmark's function: ?mode=busy loops until fnhost kills the worker.
public class spin
{
    public Task<object> handler(Event k8Event, Context k8Context)
    {
        long n = 0;
        while (k8Event.Extensions.Request.Query("mode") == "busy" && n >= 0) n = (n + 1) % 1000;
        return Task.FromResult<object>("ok");
    }
}
