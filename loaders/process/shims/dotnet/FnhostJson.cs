// The JSON fnhost's C# worker needs: parse CALL headers and JSON request bodies (objects
// become Dictionary<string, object>, arrays List<object>, numbers double), write RESULT
// headers and the JSON of returned objects.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Fnhost
{
    static class Json
    {
        public static object Parse(string text)
        {
            int at = 0;
            var value = Value(text, ref at);
            Space(text, ref at);
            if (at != text.Length) throw new FormatException("trailing characters in JSON at " + at);
            return value;
        }

        /// Nesting deeper than this is refused (a cycle, or a type whose properties never end).
        const int MaxDepth = 64;

        public static string Write(object value)
        {
            var out_ = new StringBuilder();
            Write(out_, value, 0);
            return out_.ToString();
        }

        static void Write(StringBuilder o, object value, int depth)
        {
            if (depth > MaxDepth) throw new InvalidOperationException("the result nests deeper than " + MaxDepth + " levels (a cycle?)");
            if (value == null) o.Append("null");
            else if (value is string) Quote(o, (string)value);
            else if (value is char || value is Enum || value is Guid || value is TimeSpan) Quote(o, Convert.ToString(value, CultureInfo.InvariantCulture));
            else if (value is DateTime) Quote(o, ((DateTime)value).ToString("o", CultureInfo.InvariantCulture));
            else if (value is DateTimeOffset) Quote(o, ((DateTimeOffset)value).ToString("o", CultureInfo.InvariantCulture));
            else if (value is bool) o.Append((bool)value ? "true" : "false");
            else if (value is double) o.Append(((double)value).ToString("R", CultureInfo.InvariantCulture));
            else if (value is float) o.Append(((float)value).ToString("R", CultureInfo.InvariantCulture));
            else if (value is decimal || value.GetType().IsPrimitive) o.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
            else if (value is IDictionary) WriteDictionary(o, (IDictionary)value, depth);
            else if (value is IEnumerable) WriteList(o, (IEnumerable)value, depth);
            else WriteProperties(o, value, depth);
        }

        static void WriteDictionary(StringBuilder o, IDictionary dict, int depth)
        {
            o.Append('{');
            var first = true;
            foreach (DictionaryEntry e in dict)
            {
                if (!first) o.Append(',');
                first = false;
                Quote(o, Convert.ToString(e.Key, CultureInfo.InvariantCulture));
                o.Append(':');
                Write(o, e.Value, depth + 1);
            }
            o.Append('}');
        }

        static void WriteList(StringBuilder o, IEnumerable list, int depth)
        {
            o.Append('[');
            var first = true;
            foreach (var item in list)
            {
                if (!first) o.Append(',');
                first = false;
                Write(o, item, depth + 1);
            }
            o.Append(']');
        }

        static void WriteProperties(StringBuilder o, object value, int depth)
        {
            o.Append('{');
            var first = true;
            foreach (var p in value.GetType().GetProperties())
            {
                if (p.GetIndexParameters().Length > 0) continue;
                if (!first) o.Append(',');
                first = false;
                Quote(o, p.Name);
                o.Append(':');
                Write(o, p.GetValue(value), depth + 1);
            }
            o.Append('}');
        }

        public static void Quote(StringBuilder o, string s)
        {
            o.Append('"');
            foreach (var c in s)
            {
                switch (c)
                {
                    case '"': o.Append("\\\""); break;
                    case '\\': o.Append("\\\\"); break;
                    case '\n': o.Append("\\n"); break;
                    case '\r': o.Append("\\r"); break;
                    case '\t': o.Append("\\t"); break;
                    default:
                        if (c < 0x20) o.Append("\\u").Append(((int)c).ToString("x4"));
                        else o.Append(c);
                        break;
                }
            }
            o.Append('"');
        }

        static void Space(string t, ref int at)
        {
            while (at < t.Length && char.IsWhiteSpace(t[at])) at++;
        }

        static void Expect(string t, ref int at, char c)
        {
            if (at >= t.Length || t[at] != c) throw new FormatException("expected '" + c + "' in JSON at " + at);
            at++;
        }

        static object Value(string t, ref int at)
        {
            Space(t, ref at);
            if (at >= t.Length) throw new FormatException("unexpected end of JSON");
            switch (t[at])
            {
                case '{': return Object(t, ref at);
                case '[': return Array(t, ref at);
                case '"': return String(t, ref at);
                case 't': return Literal(t, ref at, "true", true);
                case 'f': return Literal(t, ref at, "false", false);
                case 'n': return Literal(t, ref at, "null", null);
                default: return Number(t, ref at);
            }
        }

        static object Literal(string t, ref int at, string word, object value)
        {
            if (string.CompareOrdinal(t, at, word, 0, word.Length) != 0) throw new FormatException("expected " + word + " in JSON at " + at);
            at += word.Length;
            return value;
        }

        static Dictionary<string, object> Object(string t, ref int at)
        {
            var map = new Dictionary<string, object>();
            at++;
            Space(t, ref at);
            if (at < t.Length && t[at] == '}') { at++; return map; }
            while (true)
            {
                Space(t, ref at);
                var key = String(t, ref at);
                Space(t, ref at);
                Expect(t, ref at, ':');
                map[key] = Value(t, ref at);
                Space(t, ref at);
                if (at < t.Length && t[at] == ',') { at++; continue; }
                Expect(t, ref at, '}');
                return map;
            }
        }

        static List<object> Array(string t, ref int at)
        {
            var list = new List<object>();
            at++;
            Space(t, ref at);
            if (at < t.Length && t[at] == ']') { at++; return list; }
            while (true)
            {
                list.Add(Value(t, ref at));
                Space(t, ref at);
                if (at < t.Length && t[at] == ',') { at++; continue; }
                Expect(t, ref at, ']');
                return list;
            }
        }

        static string String(string t, ref int at)
        {
            Expect(t, ref at, '"');
            var o = new StringBuilder();
            while (true)
            {
                if (at >= t.Length) throw new FormatException("unterminated string in JSON");
                var c = t[at++];
                if (c == '"') return o.ToString();
                if (c != '\\') { o.Append(c); continue; }
                var e = t[at++];
                switch (e)
                {
                    case 'n': o.Append('\n'); break;
                    case 'r': o.Append('\r'); break;
                    case 't': o.Append('\t'); break;
                    case 'b': o.Append('\b'); break;
                    case 'f': o.Append('\f'); break;
                    case 'u': o.Append((char)Convert.ToInt32(t.Substring(at, 4), 16)); at += 4; break;
                    default: o.Append(e); break;
                }
            }
        }

        static double Number(string t, ref int at)
        {
            int start = at;
            while (at < t.Length && "+-0123456789.eE".IndexOf(t[at]) >= 0) at++;
            if (start == at) throw new FormatException("unexpected character in JSON at " + at);
            return double.Parse(t.Substring(start, at - start), CultureInfo.InvariantCulture);
        }
    }
}
