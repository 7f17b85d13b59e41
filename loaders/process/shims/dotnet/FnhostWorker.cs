// fnhost's C# worker (Mono): loads the Kubeless C# function (class MOD_NAME, method
// FUNC_HANDLER(Kubeless.Functions.Event, Kubeless.Functions.Context)) compiled into the same
// assembly, and serves calls from fnhost over the worker protocol (docs/worker-protocol.md),
// many at once on the thread pool. Started by fnhost as `mono function.exe` with
// FNHOST_WORKER_SOCKET, MOD_NAME, FUNC_HANDLER, FUNC_PORT, FUNC_TIMEOUT, FUNC_RUNTIME and
// FUNC_MEMORY_LIMIT in the environment.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Kubeless.Functions;

namespace Fnhost
{
    static class Worker
    {
        const int Ready = 1, Call = 2, Result = 3;
        static Socket socket;
        static readonly object writeLock = new object();
        static object function;
        static MethodInfo method;
        static Context context;

        static int Main()
        {
            var module = Environment.GetEnvironmentVariable("MOD_NAME") ?? "";
            var handler = Environment.GetEnvironmentVariable("FUNC_HANDLER") ?? "";
            var type = typeof(Worker).Assembly.GetTypes().FirstOrDefault(t => t.Name == module && t.Namespace != "Fnhost");
            if (type == null)
            {
                Console.Error.WriteLine($"class {module} not found (function {module}.{handler})");
                return 1;
            }
            method = type.GetMethod(handler, new[] { typeof(Event), typeof(Context) });
            if (method == null)
            {
                Console.Error.WriteLine($"method {handler}(Kubeless.Functions.Event, Kubeless.Functions.Context) not found in class {module} (function {module}.{handler})");
                return 1;
            }
            function = method.IsStatic ? null : Activator.CreateInstance(type);
            context = FunctionContext(module);
            int threads = int.Parse(Env("FNHOST_WORKER_CONCURRENCY", "16"));
            ThreadPool.SetMinThreads(threads, threads);
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.IP);
            socket.Connect(new Mono.Unix.UnixEndPoint(Environment.GetEnvironmentVariable("FNHOST_WORKER_SOCKET")));
            var description = $"mono {Environment.Version} pid {System.Diagnostics.Process.GetCurrentProcess().Id}";
            Send(Ready, 0, "{\"protocol\":2,\"concurrency\":" + threads + ",\"description\":" + Json.Write(description) + "}", new byte[0]);
            Serve(new NetworkStream(socket));
            return 0;
        }

        static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) ?? fallback;

        /// fnhost's one context (FNHOST_CONTEXT), with the timeout as text like FUNC_TIMEOUT ("180").
        static Context FunctionContext(string module)
        {
            var given = (Dictionary<string, object>)Json.Parse(Env("FNHOST_CONTEXT", "{}"));
            var seconds = Convert.ToDouble(given["timeout"], System.Globalization.CultureInfo.InvariantCulture);
            var timeout = seconds.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            return new Context(module, (string)given["function-name"], Env("FUNC_PORT", "8080"), timeout,
                (string)given["runtime"], (string)given["memory-limit"]);
        }

        static void Serve(Stream stream)
        {
            var lengthBytes = new byte[4];
            while (Fill(stream, lengthBytes))
            {
                var frame = new byte[BitConverter.ToUInt32(lengthBytes, 0)];
                if (!Fill(stream, frame)) return;
                int kind = frame[0];
                ulong id = BitConverter.ToUInt64(frame, 1);
                int headerLength = (int)BitConverter.ToUInt32(frame, 9);
                var header = Encoding.UTF8.GetString(frame, 13, headerLength);
                var body = new byte[frame.Length - 13 - headerLength];
                Buffer.BlockCopy(frame, 13 + headerLength, body, 0, body.Length);
                if (kind == Call) ThreadPool.QueueUserWorkItem(_ => Invoke(id, header, body));
            }
        }

        static bool Fill(Stream stream, byte[] buffer)
        {
            int at = 0;
            while (at < buffer.Length)
            {
                int n = stream.Read(buffer, at, buffer.Length - at);
                if (n <= 0) return false;
                at += n;
            }
            return true;
        }

        static void Invoke(ulong id, string headerText, byte[] body)
        {
            var response = new Response();
            try
            {
                var call = (Dictionary<string, object>)Json.Parse(headerText);
                var ev = (Dictionary<string, object>)call["event"];
                var headers = ((List<object>)call["headers"]).Cast<List<object>>()
                    .Select(p => new KeyValuePair<string, string>((string)p[0], (string)p[1])).ToList();
                var request = new Request((string)call["method"], (string)call["path"], (string)call["query"], headers, body);
                var data = EventData((string)call["data"], body);
                var e = new Event(data, (string)ev["id"], (string)ev["type"], (string)ev["time"], (string)ev["namespace"],
                    new Extensions(request, response));
                var value = method.Invoke(function, new object[] { e, context });
                var task = value as Task;
                if (task != null)
                    task.ContinueWith(t => Settle(id, response, t));
                else
                    Finish(id, response, value, null);
            }
            catch (TargetInvocationException ex)
            {
                Finish(id, response, null, ex.InnerException ?? ex);
            }
            catch (Exception ex)
            {
                Finish(id, response, null, ex);
            }
        }

        /// A finished task's outcome: its result when the method returns Task<T> (a plain
        /// Task has none, whatever type the runtime gives it), its exception, or cancellation.
        static void Settle(ulong id, Response response, Task task)
        {
            try
            {
                if (task.IsFaulted) Finish(id, response, null, task.Exception);
                else if (task.IsCanceled) Finish(id, response, null, new OperationCanceledException("the function's task was cancelled"));
                else Finish(id, response, method.ReturnType.IsGenericType ? task.GetType().GetProperty("Result").GetValue(task) : null, null);
            }
            catch (Exception ex)
            {
                Finish(id, response, null, ex);
            }
        }

        /// The parsed JSON when fnhost decided the body is JSON (it checked it), else the body as
        /// text ("" when empty).
        static object EventData(string kind, byte[] body)
        {
            var text = Encoding.UTF8.GetString(body);
            return kind == "json" ? Json.Parse(text) : text;
        }

        /// Sends the call's RESULT; a result that cannot be encoded is the call's error.
        static void Finish(ulong id, Response response, object value, Exception error)
        {
            try
            {
                Encode(id, response, value, error);
            }
            catch (Exception ex)
            {
                Send(Result, id, "{\"error\":" + Json.Write("Function failed to execute: its result could not be sent: " + ex.Message) + "}", new byte[0]);
            }
        }

        static void Encode(ulong id, Response response, object value, Exception error)
        {
            if (error != null)
            {
                var agg = error as AggregateException;
                var inner = agg != null && agg.InnerExceptions.Count == 1 ? agg.InnerExceptions[0] : error;
                Send(Result, id, "{\"error\":" + Json.Write("Function failed to execute: " + inner) + "}", new byte[0]);
                return;
            }
            byte[] bytes;
            if (value == null) bytes = new byte[0];
            else if (value is string) bytes = Encoding.UTF8.GetBytes((string)value);
            else if (value is byte[]) bytes = (byte[])value;
            else
            {
                if (response.Headers.All(h => !string.Equals(h.Key, "content-type", StringComparison.OrdinalIgnoreCase)))
                    response.AddHeader("content-type", "application/json");
                bytes = Encoding.UTF8.GetBytes(Json.Write(value));
            }
            var header = new StringBuilder("{\"status\":").Append(response.StatusCode).Append(",\"headers\":[");
            for (int i = 0; i < response.Headers.Count; i++)
            {
                if (i > 0) header.Append(',');
                header.Append('[');
                Json.Quote(header, response.Headers[i].Key);
                header.Append(',');
                Json.Quote(header, response.Headers[i].Value);
                header.Append(']');
            }
            Send(Result, id, header.Append("]}").ToString(), bytes);
        }

        static void Send(int kind, ulong id, string header, byte[] body)
        {
            var headerBytes = Encoding.UTF8.GetBytes(header);
            var frame = new byte[17 + headerBytes.Length + body.Length];
            BitConverter.GetBytes((uint)(13 + headerBytes.Length + body.Length)).CopyTo(frame, 0);
            frame[4] = (byte)kind;
            BitConverter.GetBytes(id).CopyTo(frame, 5);
            BitConverter.GetBytes((uint)headerBytes.Length).CopyTo(frame, 13);
            headerBytes.CopyTo(frame, 17);
            body.CopyTo(frame, 17 + headerBytes.Length);
            lock (writeLock)
            {
                int sent = 0;
                while (sent < frame.Length) sent += socket.Send(frame, sent, frame.Length - sent, SocketFlags.None);
            }
        }
    }
}
