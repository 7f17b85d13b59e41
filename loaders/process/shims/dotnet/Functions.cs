// The types of the Kubeless.Functions NuGet package (Event, Extensions, Context), so that
// unmodified Kubeless C# functions compile against fnhost. fnhost adds the request's method,
// path, query and headers, and a Response whose status and headers the function may set.
using System;
using System.Collections.Generic;

namespace Kubeless.Functions
{
    public class Event
    {
        public object Data { get; }
        public string EventId { get; }
        public string EventType { get; }
        public string EventTime { get; }
        public string EventNamespace { get; }
        public Extensions Extensions { get; }

        public Event(object data, string eventId, string eventType, string eventTime, string eventNamespace, Extensions extensions)
        {
            Data = data;
            EventId = eventId;
            EventType = eventType;
            EventTime = eventTime;
            EventNamespace = eventNamespace;
            Extensions = extensions;
        }
    }

    public class Extensions
    {
        /// <summary>The HTTP request (a <see cref="Request"/>; upstream's was ASP.NET's).</summary>
        public object HttpRequest { get; }
        public Request Request { get; }
        public Response Response { get; }

        public Extensions(Request request, Response response)
        {
            HttpRequest = request;
            Request = request;
            Response = response;
        }
    }

    public class Request
    {
        public string Method { get; }
        public string Path { get; }
        public string QueryString { get; }
        /// <summary>Header names in lower case, in request order; repeated names repeated.</summary>
        public IList<KeyValuePair<string, string>> Headers { get; }
        public byte[] Body { get; }

        public Request(string method, string path, string queryString, IList<KeyValuePair<string, string>> headers, byte[] body)
        {
            Method = method;
            Path = path;
            QueryString = queryString;
            Headers = headers;
            Body = body;
        }

        /// <summary>The first value of a header, or null.</summary>
        public string Header(string name)
        {
            foreach (var h in Headers)
                if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)) return h.Value;
            return null;
        }

        /// <summary>The first value of a query parameter, or null.</summary>
        public string Query(string name)
        {
            foreach (var pair in QueryString.Split('&'))
            {
                var kv = pair.Split(new[] { '=' }, 2);
                if (Uri.UnescapeDataString(kv[0].Replace('+', ' ')) == name)
                    return kv.Length > 1 ? Uri.UnescapeDataString(kv[1].Replace('+', ' ')) : "";
            }
            return null;
        }
    }

    public class Response
    {
        public int StatusCode { get; set; } = 200;
        public IList<KeyValuePair<string, string>> Headers { get; } = new List<KeyValuePair<string, string>>();

        /// <summary>Adds a header (repeat it for several values).</summary>
        public Response AddHeader(string name, string value)
        {
            Headers.Add(new KeyValuePair<string, string>(name, value));
            return this;
        }

        /// <summary>Replaces every value of a header.</summary>
        public Response SetHeader(string name, string value)
        {
            for (int i = Headers.Count - 1; i >= 0; i--)
                if (string.Equals(Headers[i].Key, name, StringComparison.OrdinalIgnoreCase)) Headers.RemoveAt(i);
            return AddHeader(name, value);
        }
    }

    public class Context
    {
        public string ModuleName { get; }
        public string FunctionName { get; }
        public string FunctionPort { get; }
        public string Timeout { get; }
        public string Runtime { get; }
        public string MemoryLimit { get; }

        public Context(string moduleName, string functionName, string functionPort, string timeout, string runtime, string memoryLimit)
        {
            ModuleName = moduleName;
            FunctionName = functionName;
            FunctionPort = functionPort;
            Timeout = timeout;
            Runtime = runtime;
            MemoryLimit = memoryLimit;
        }
    }
}
