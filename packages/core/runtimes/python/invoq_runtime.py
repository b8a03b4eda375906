"""invoq's Python runtime client.

Speaks Lambda's Runtime API at AWS_LAMBDA_RUNTIME_API the way AWS's awslambdaric does: loads
_HANDLER (`module.function`) from LAMBDA_TASK_ROOT once, then loops over `next`, calling the
handler and posting its result or error. Standard library only; Python 3.9 syntax.
"""

import decimal
import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback

_API_PREFIX = "/2018-06-01/runtime"
_THIS_FILE = os.path.abspath(__file__)
_request_id = ""


class _RuntimeApiGone(Exception):
    """A Runtime API call failed: the host went away (or refused the call outright)."""


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


# --- the Runtime API -------------------------------------------------------------------------


class _Response(object):
    """A Runtime API answer: its status, its headers (names lower-cased) and its body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


class RuntimeApiClient(object):
    """
    HTTP/1.1 on one keep-alive socket, reopened once when the host closed an idle one. Written on
    a raw socket, not http.client: the Runtime API's answers are small and always have a length
    (or are chunked), and http.client's header parsing cost about a quarter of a millisecond per
    invocation, as much as the rest of the round trip (measured against invoq's Runtime API).
    """

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self._address = (host, int(port))
        self._host_line = "Host: " + address + "\r\n"
        self._sock = None
        self._reader = None

    def _connect(self):
        sock = socket.create_connection(self._address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._reader = sock.makefile("rb")

    def _close(self):
        for closable in (self._reader, self._sock):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass
        self._sock = None
        self._reader = None

    def _read_response(self):
        reader = self._reader
        status_line = reader.readline()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise OSError("not an HTTP answer")
        status = int(parts[1])
        headers = {}
        while True:
            line = reader.readline()
            if not line:
                raise OSError("connection closed in the headers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while reader.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(reader.read(size))
                reader.readline()
            body = b"".join(chunks)
        else:
            length = int(headers.get("content-length") or 0)
            body = reader.read(length) if length else b""
            if len(body) < length:
                raise OSError("connection closed in the body")
        if headers.get("connection", "").lower() == "close":
            self._close()
        return _Response(status, headers, body)

    def _request(self, method, path, body=None, headers=None):
        head = method + " " + path + " HTTP/1.1\r\n" + self._host_line
        for name, value in (headers or {}).items():
            head += name + ": " + value + "\r\n"
        if body is not None:
            head += "Content-Length: " + str(len(body)) + "\r\n"
        message = (head + "\r\n").encode("latin-1") + (body or b"")
        for attempt in (0, 1):
            fresh = self._sock is None
            try:
                if fresh:
                    self._connect()
                self._sock.sendall(message)
                return self._read_response()
            except (OSError, ValueError):
                self._close()
                # A reused connection the host closed while idle (its keep-alive timeout): retry once.
                if fresh or attempt == 1:
                    raise _RuntimeApiGone()
        raise _RuntimeApiGone()

    def next(self):
        response = self._request("GET", _API_PREFIX + "/invocation/next")
        if response.status != 200:
            raise _RuntimeApiGone()
        return response

    def post_response(self, request_id, body):
        # 202, or 413 past the size limit (the caller was already told): either way, go on.
        self._request(
            "POST",
            _API_PREFIX + "/invocation/" + request_id + "/response",
            body=body,
            headers={"Content-Type": "application/json"},
        )

    def post_error(self, request_id, error_type_header, error):
        self._request(
            "POST",
            _API_PREFIX + "/invocation/" + request_id + "/error",
            body=_error_json(error),
            headers={"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type_header},
        )

    def post_init_error(self, error):
        self._request(
            "POST",
            _API_PREFIX + "/init/error",
            body=_error_json(error),
            headers={"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error["errorType"]},
        )


# --- errors ----------------------------------------------------------------------------------


def make_error(error_message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def build_fault_result(exc_info, request_id):
    etype, value, tb = exc_info
    if isinstance(value, FaultException):
        return make_error(value.msg, value.exception_type, value.trace, request_id)
    frames = traceback.extract_tb(tb)
    # Drop the runtime's own frames at the top: the trace starts in the user's code.
    start = 0
    while start < len(frames) and _is_runtime_frame(frames[start].filename):
        start += 1
    return make_error(str(value), etype.__name__, traceback.format_list(frames[start:]), request_id)


def _is_runtime_frame(filename):
    return filename.startswith("<frozen importlib") or os.path.abspath(filename) == _THIS_FILE


def _error_json(error):
    try:
        return json.dumps(error, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError):
        return json.dumps(error).encode("ascii")


def log_error(error):
    """`[ERROR] Type: message` then the traceback, written to stdout as one record."""
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error.get("stackTrace") or []:
        lines.extend(element.splitlines() if element else [""])
    # One record, one line: newlines inside it become \r, as awslambdaric writes them.
    _write_stdout("\r".join(lines) + "\n")


def _write_stdout(text):
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except Exception:
        pass


def _flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _exit(code):
    _flush_output()
    os._exit(code)


# --- loading the handler ---------------------------------------------------------------------


def _get_handler(handler):
    try:
        (modname, fname) = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(FaultException.MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, str(e)))
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR, "Unable to import module '{}': {}".format(modname, str(e))
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR, "Syntax error in module '{}': {}".format(modname, str(e)), trace
        )
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND, "Handler '{}' missing on module '{}'".format(fname, modname)
        )


# --- the context -----------------------------------------------------------------------------


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]


class Client(object):
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]


def _make_obj_from_dict(cls, values):
    if values is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, values.get(field) if isinstance(values, dict) else None)
    return obj


class LambdaContext(object):
    def __init__(self, request_id, client_context, cognito_identity, deadline_ms, invoked_function_arn):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = None

        self.client_context = _make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _make_obj_from_dict(Client, self.client_context.client)

        # As awslambdaric: always an object, its fields None when no identity was sent.
        self.identity = _make_obj_from_dict(CognitoIdentity, {})
        if isinstance(cognito_identity, dict):
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")

        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(round(time.time() * 1000)), 0)

    def log(self, msg):
        _write_stdout(str(msg))

    def __repr__(self):
        return (
            "{}([aws_request_id={},log_group_name={},log_stream_name={},function_name={},"
            "memory_limit_in_mb={},function_version={},invoked_function_arn={},client_context={},identity={}])"
        ).format(
            self.__class__.__name__,
            self.aws_request_id,
            self.log_group_name,
            self.log_stream_name,
            self.function_name,
            self.memory_limit_in_mb,
            self.function_version,
            self.invoked_function_arn,
            self.client_context,
            self.identity,
        )


def _json_header(value):
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


# --- logging ---------------------------------------------------------------------------------


class LambdaLoggerHandler(logging.Handler):
    def emit(self, record):
        try:
            # A record's own newlines (a logged traceback) become \r, so it stays one log line.
            sys.stdout.write(self.format(record).replace("\n", "\r") + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


class LambdaLoggerFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id or ""
        return True


_LOG_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
}


def _setup_logging():
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    handler.setFormatter(formatter)
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(_LOG_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper(), logging.INFO))


# --- the loop --------------------------------------------------------------------------------


def _to_json(value):
    def default(o):
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        raise TypeError("Object of type {} is not JSON serializable".format(o.__class__.__name__))

    return json.dumps(value, default=default, ensure_ascii=False, allow_nan=True).encode("utf-8")


def _handle(client, handler, response):
    global _request_id
    headers, body = response.headers, response.body
    request_id = headers.get("lambda-runtime-aws-request-id") or ""
    _request_id = request_id
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        deadline_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
    except ValueError:
        deadline_ms = 0
    context = LambdaContext(
        request_id,
        _json_header(headers.get("lambda-runtime-client-context")),
        _json_header(headers.get("lambda-runtime-cognito-identity")),
        deadline_ms,
        headers.get("lambda-runtime-invoked-function-arn"),
    )
    error_type_header = "Unhandled"
    try:
        try:
            event = json.loads(body.decode("utf-8")) if body else None
        except ValueError as e:
            raise FaultException(FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(str(e)))
        result = handler(event, context)
        try:
            payload = _to_json(result)
        except (TypeError, ValueError) as e:
            raise FaultException(FaultException.MARSHAL_ERROR, "Unable to marshal response: {}".format(str(e)))
    except FaultException as e:
        error_type_header = e.exception_type
        error = build_fault_result(sys.exc_info(), request_id)
    except Exception:
        error = build_fault_result(sys.exc_info(), request_id)
    else:
        _flush_output()
        client.post_response(request_id, payload)
        return
    log_error(error)
    _flush_output()
    client.post_error(request_id, error_type_header, error)


def main():
    client = RuntimeApiClient(os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    # sys.path[0] is this script's folder; the user's code imports from the task root instead.
    sys.path[0] = task_root
    try:
        _setup_logging()
        handler = _get_handler(os.environ.get("_HANDLER", ""))
    except Exception:
        # A fault above, or anything the module raised while it was imported (its own type).
        error = build_fault_result(sys.exc_info(), None)
        log_error(error)
        _flush_output()
        try:
            client.post_init_error(error)
        except _RuntimeApiGone:
            pass
        _exit(1)

    try:
        while True:
            _handle(client, handler, client.next())
    except _RuntimeApiGone:
        _exit(1)


if __name__ == "__main__":
    main()
