// The C# peer of the load benchmark: the same hello.cs behind Mono's own HttpListener, with
// a Kubeless-shaped event.
//   mono dotnet-peer.exe PORT
using System;
using System.IO;
using System.Net;
using System.Text;
using System.Threading.Tasks;
using Kubeless.Functions;

static class DotnetPeer
{
    static void Main(string[] args)
    {
        var listener = new HttpListener();
        listener.Prefixes.Add("http://*:" + args[0] + "/");
        listener.Start();
        var function = new hello();
        var context = new Context("hello", "foo", args[0], "180", "dotnetmono6.8", "0");
        while (true)
        {
            var http = listener.GetContext();
            Task.Run(() =>
            {
                var body = new StreamReader(http.Request.InputStream).ReadToEnd();
                var request = new Request(http.Request.HttpMethod, http.Request.Url.AbsolutePath, http.Request.Url.Query.TrimStart('?'),
                    new System.Collections.Generic.List<System.Collections.Generic.KeyValuePair<string, string>>(), Encoding.UTF8.GetBytes(body));
                var e = new Event(body, http.Request.Headers["event-id"], null, null, null, new Extensions(request, new Response()));
                var bytes = Encoding.UTF8.GetBytes((string)function.foo(e, context).Result);
                http.Response.ContentLength64 = bytes.Length;
                http.Response.OutputStream.Write(bytes, 0, bytes.Length);
                http.Response.Close();
            });
        }
    }
}
