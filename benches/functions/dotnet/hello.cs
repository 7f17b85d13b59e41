using System.Threading.Tasks;
using Kubeless.Functions;

// The C# hello world of the load benchmark.
public class hello
{
    public Task<object> foo(Event k8Event, Context k8Context)
    {
        return Task.FromResult<object>("hello world");
    }
}
