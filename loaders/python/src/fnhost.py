"""fnhost's Python side, importable by functions as ``fnhost``.

What a function may use:

* ``fnhost.Response(body=None, status=200, headers=None, content_type=None)``: return it to
  set the status code and headers. ``headers`` is a dict or a list of ``(name, value)`` pairs;
  a list keeps repeated names, so several ``Set-Cookie`` headers survive.
* ``fnhost.HTTPError(status, body=None, headers=None)``: raise it to answer with that status.
* ``fnhost.FunctionTimeout``: raised inside a call that ran past ``FUNC_TIMEOUT``. It derives
  from ``BaseException`` so that ``except Exception`` blocks do not swallow it.

The rest (``Request``, ``install_*``, ``submit_async``) is wired up by the Rust loader.
"""

import asyncio
import io
import json
import sys
import threading
import time
import urllib.parse

__all__ = ["Response", "HTTPError", "FunctionTimeout", "Request"]


class FunctionTimeout(BaseException):
    """The call ran past FUNC_TIMEOUT and is being stopped."""


class Response:
    """A function result with an explicit status code and headers."""

    __slots__ = ("body", "status_code", "headerlist", "content_type")

    def __init__(self, body=None, status=200, headers=None, content_type=None):
        self.body = body
        self.status_code = int(status)
        self.headerlist = _header_list(headers)
        self.content_type = content_type

    def __repr__(self):
        return "<fnhost.Response %d>" % self.status_code


class HTTPError(Exception):
    """Raise to answer with ``status`` (and optional body and headers)."""

    def __init__(self, status=500, body=None, headers=None):
        super().__init__(status, body)
        self.status_code = int(status)
        self.body = body
        self.headerlist = _header_list(headers)


def _header_list(headers):
    if headers is None:
        return []
    if hasattr(headers, "items"):
        headers = headers.items()
    return [(str(k), str(v)) for k, v in headers]


def json_dumps(value):
    """JSON text for a returned dict; bytes values are decoded as UTF-8."""
    return json.dumps(value, default=_json_default)


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


# ---------------------------------------------------------------------------------------------
# The request object: the commonly used part of Bottle's BaseRequest API.
# ---------------------------------------------------------------------------------------------


class MultiDict:
    """A dict that keeps every value of a repeated key (Bottle's MultiDict/FormsDict)."""

    def __init__(self, pairs=()):
        self._dict = {}
        for k, v in pairs:
            self._dict.setdefault(k, []).append(v)

    def __contains__(self, key):
        return key in self._dict

    def __iter__(self):
        return iter(self._dict)

    def __len__(self):
        return len(self._dict)

    def __getitem__(self, key):
        return self._dict[key][-1]

    def __getattr__(self, name):
        # Bottle's FormsDict: missing attributes are empty strings.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        values = self._dict.get(name)
        return values[-1] if values else ""

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, list(self.allitems()))

    def keys(self):
        return self._dict.keys()

    def values(self):
        return [v[-1] for v in self._dict.values()]

    def items(self):
        return [(k, v[-1]) for k, v in self._dict.items()]

    def allitems(self):
        return [(k, v) for k, vs in self._dict.items() for v in vs]

    iterallitems = allitems

    def get(self, key, default=None, index=-1, type=None):
        try:
            value = self._dict[key][index]
            return type(value) if type else value
        except Exception:
            return default

    def getall(self, key):
        return list(self._dict.get(key, ()))

    def getone(self, key, default=None):
        return self.get(key, default)

    getunicode = getone

    def decode(self, encoding=None):
        return self

    def dict(self):
        return {k: list(v) for k, v in self._dict.items()}


FormsDict = MultiDict


class HeaderDict:
    """Case-insensitive, read-only view of the request headers (Bottle's WSGIHeaderDict)."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs):
        self._pairs = pairs  # list of (lower-case name, value)

    def getall(self, key):
        key = key.lower()
        return [v for k, v in self._pairs if k == key]

    def get(self, key, default=None):
        values = self.getall(key)
        return ", ".join(values) if values else default

    raw = get

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key):
        key = key.lower()
        return any(k == key for k, _ in self._pairs)

    def keys(self):
        seen = []
        for k, _ in self._pairs:
            title = "-".join(p.capitalize() for p in k.split("-"))
            if title not in seen:
                seen.append(title)
        return seen

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def items(self):
        return [(k, self[k]) for k in self.keys()]

    def values(self):
        return [self[k] for k in self.keys()]

    def __repr__(self):
        return "HeaderDict(%r)" % (self.items(),)


class FileUpload:
    """One uploaded file of a multipart/form-data body (Bottle's FileUpload)."""

    def __init__(self, fileobj, name, filename, headers):
        self.file = fileobj
        self.name = name
        self.raw_filename = filename
        self.headers = HeaderDict([(k.lower(), v) for k, v in headers])

    @property
    def filename(self):
        name = self.raw_filename.replace("\\", "/").split("/")[-1]
        return "".join(c for c in name if c.isalnum() or c in "-_.") or "empty"

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    @property
    def content_length(self):
        return len(self.file.getbuffer())

    def save(self, destination, overwrite=False, chunk_size=2**16):
        import os

        if isinstance(destination, str):
            if os.path.isdir(destination):
                destination = os.path.join(destination, self.filename)
            if not overwrite and os.path.exists(destination):
                raise IOError("File exists.")
            with open(destination, "wb") as fp:
                fp.write(self.file.getvalue())
        else:
            destination.write(self.file.getvalue())


def _parse_options_header(value):
    """'form-data; name="a"; filename="b"' -> ('form-data', {'name': 'a', 'filename': 'b'})"""
    parts = _split_params(value)
    main = parts[0].strip().lower() if parts else ""
    params = {}
    for item in parts[1:]:
        if "=" not in item:
            continue
        k, v = item.split("=", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] == '"':
            v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[k.strip().lower()] = v
    return main, params


def _split_params(value):
    out, cur, quoted, escaped = [], [], False, False
    for c in value:
        if escaped:
            cur.append(c)
            escaped = False
        elif c == "\\" and quoted:
            cur.append(c)
            escaped = True
        elif c == '"':
            cur.append(c)
            quoted = not quoted
        elif c == ";" and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


def parse_multipart(body, boundary):
    """Yields (name, filename or None, headers, payload bytes) for each part."""
    delimiter = b"--" + boundary.encode("latin-1")
    sections = body.split(delimiter)
    for section in sections[1:]:
        if section.startswith(b"--"):
            break  # closing delimiter
        if section.startswith(b"\r\n"):
            section = section[2:]
        head, sep, payload = section.partition(b"\r\n\r\n")
        if not sep:
            continue
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        headers = []
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                headers.append((k.strip(), v.strip()))
        disposition = next((v for k, v in headers if k.lower() == "content-disposition"), "")
        _, params = _parse_options_header(disposition)
        if "name" not in params:
            continue
        yield params["name"], params.get("filename"), headers, payload


class Request:
    """The request handed to a function as ``event['extensions']['request']``.

    Supports the commonly used part of Bottle's request API: ``get_header``, ``headers``,
    ``query``/``GET``, ``forms``, ``files``, ``POST``, ``params``, ``json``, ``body``,
    ``path``, ``method``, ``url``, ``query_string``, ``content_type``, ``content_length``,
    ``cookies``/``get_cookie``, ``remote_addr`` and a WSGI-style ``environ``.
    """

    def __init__(self, method, path, query_string, headers, body, remote_addr, scheme, version):
        self.method = method
        self.path = path
        self.query_string = query_string
        self._pairs = headers
        self._body = body
        self._remote_addr = remote_addr
        self.url_scheme = scheme
        self.version = version
        self._cache = {}

    def __repr__(self):
        return "<Request %s %s>" % (self.method, self.fullpath)

    def _cached(self, key, build):
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = build()
        return value

    # headers -----------------------------------------------------------------------------
    @property
    def headers(self):
        return self._cached("headers", lambda: HeaderDict(self._pairs))

    def get_header(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def content_type(self):
        return self.headers.get("content-type", "").lower()

    @property
    def content_length(self):
        return len(self._body)

    @property
    def cookies(self):
        def build():
            import http.cookies

            jar = http.cookies.SimpleCookie()
            for value in self.headers.getall("cookie"):
                jar.load(value)
            return FormsDict((k, m.value) for k, m in jar.items())

        return self._cached("cookies", build)

    def get_cookie(self, key, default=None):
        return self.cookies.get(key, default)

    # url -----------------------------------------------------------------------------------
    @property
    def fullpath(self):
        return self.path

    @property
    def script_name(self):
        return "/"

    @property
    def url(self):
        host = self.headers.get("x-forwarded-host") or self.headers.get("host") or "localhost"
        qs = "?" + self.query_string if self.query_string else ""
        return "%s://%s%s%s" % (self.url_scheme, host, urllib.parse.quote(self.path), qs)

    @property
    def urlparts(self):
        return urllib.parse.urlsplit(self.url)

    @property
    def remote_addr(self):
        forwarded = self.headers.get("x-forwarded-for")
        return forwarded.split(",")[0].strip() if forwarded else self._remote_addr

    @property
    def remote_route(self):
        forwarded = self.headers.get("x-forwarded-for")
        if forwarded:
            return [ip.strip() for ip in forwarded.split(",")]
        return [self._remote_addr] if self._remote_addr else []

    @property
    def is_xhr(self):
        return self.headers.get("x-requested-with", "").lower() == "xmlhttprequest"

    is_ajax = is_xhr

    # query and forms ------------------------------------------------------------------------
    @property
    def query(self):
        return self._cached(
            "query",
            lambda: FormsDict(urllib.parse.parse_qsl(self.query_string, keep_blank_values=True)),
        )

    GET = query

    def _parse_body(self):
        forms, files = FormsDict(), FormsDict()
        main, params = _parse_options_header(self.headers.get("content-type", ""))
        if main == "application/x-www-form-urlencoded":
            text = self._body.decode("utf-8", "replace")
            forms = FormsDict(urllib.parse.parse_qsl(text, keep_blank_values=True))
        elif main == "multipart/form-data" and params.get("boundary"):
            form_pairs, file_pairs = [], []
            for name, filename, headers, payload in parse_multipart(self._body, params["boundary"]):
                if filename is None:
                    form_pairs.append((name, payload.decode("utf-8", "replace")))
                else:
                    file_pairs.append((name, FileUpload(io.BytesIO(payload), name, filename, headers)))
            forms, files = FormsDict(form_pairs), FormsDict(file_pairs)
        return forms, files

    @property
    def forms(self):
        return self._cached("forms_files", self._parse_body)[0]

    @property
    def files(self):
        return self._cached("forms_files", self._parse_body)[1]

    @property
    def POST(self):
        forms, files = self._cached("forms_files", self._parse_body)
        return FormsDict(forms.allitems() + files.allitems())

    @property
    def params(self):
        return FormsDict(self.query.allitems() + self.forms.allitems())

    # body ----------------------------------------------------------------------------------
    @property
    def body(self):
        return io.BytesIO(self._body)

    @property
    def json(self):
        main, _ = _parse_options_header(self.headers.get("content-type", ""))
        if main != "application/json" or not self._body:
            return None
        return json.loads(self._body)

    @property
    def environ(self):
        def build():
            env = {
                "REQUEST_METHOD": self.method,
                "PATH_INFO": self.path,
                "QUERY_STRING": self.query_string,
                "SERVER_PROTOCOL": self.version,
                "REMOTE_ADDR": self._remote_addr or "",
                "CONTENT_LENGTH": str(len(self._body)),
                "CONTENT_TYPE": self.headers.get("content-type", ""),
                "wsgi.url_scheme": self.url_scheme,
                "wsgi.input": io.BytesIO(self._body),
            }
            for name in {k for k, _ in self._pairs}:
                key = "HTTP_" + name.upper().replace("-", "_")
                if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                    env[key] = self.headers.get(name)
            return env

        return self._cached("environ", build)


# ---------------------------------------------------------------------------------------------
# Process setup, called once by the loader.
# ---------------------------------------------------------------------------------------------

_original_sleep = time.sleep


def install_stdio():
    """Unbuffered stdout/stderr, as PYTHONUNBUFFERED=1: a print reaches the log at once."""
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
    )


def install_crash_reports():
    """A function that ends the process says so in the log, whatever runs it: ``faulthandler``
    prints the crashing thread's Python stack on a segfault, abort, bus or floating-point error, and
    ``os._exit`` logs who called it before the process ends (it still ends, with the status
    the function gave)."""
    import faulthandler
    import os
    import traceback

    faulthandler.enable(file=sys.stderr, all_threads=False)
    real_exit = os._exit

    def _exit(status):
        try:
            stack = "".join(traceback.format_stack()[:-1])
            sys.stderr.write(
                f"fnhost: the function called os._exit({status}); this process ends now\n{stack}"
            )
        finally:
            real_exit(status)

    _exit.__doc__ = real_exit.__doc__
    os._exit = _exit


def install_sleep(interruptible_sleep):
    """Makes time.sleep stoppable when a call times out; behaves as time.sleep otherwise."""

    def sleep(seconds):
        if not interruptible_sleep(seconds):
            _original_sleep(seconds)

    sleep.__doc__ = _original_sleep.__doc__
    time.sleep = sleep


_loop = None
_loop_ready = threading.Event()


def run_event_loop():
    """Runs the shared asyncio loop for async handlers; called on a loader-owned thread."""
    global _loop
    _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    _loop_ready.set()
    _loop.run_forever()


def submit_async(awaitable, done):
    """Schedules an awaitable on the shared loop; ``done(future)`` runs when it finishes."""
    _loop_ready.wait()
    future = asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), _loop)
    future.add_done_callback(done)
    return future


async def _as_coroutine(awaitable):
    return await awaitable
