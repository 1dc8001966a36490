"""Log phrasing by language: what a Java, Go, Python, Node, .NET or Ruby service writes.

The same event reads differently in every runtime: a refused connection is
`java.net.ConnectException: Connection refused` in Java, `dial tcp 10.0.0.5:5432: connect:
connection refused` in Go, `Errno::ECONNREFUSED` in Ruby. Phrases are patterns for
`Telemetry._fill`: ``{n}``, ``{ms}``, ``{id}``, ``{uuid}``, ``{hex}``, ``{ip}`` and
``{timeout}`` are filled per line; the names of services are already in them. A service named
here may appear nowhere else in the evidence (a third-party API exports nothing), as in life.
"""

from __future__ import annotations

from dataclasses import dataclass

from chronosops.scenarios.conventions import Language
from chronosops.scenarios.model import FailureMode


@dataclass(frozen=True)
class Peer:
    """The service a call goes to, as a log line may name it."""

    name: str
    address: str
    port: int
    operation: str  # "GET /features", "SELECT orders"
    database: bool = False
    external: bool = False

    @property
    def method(self) -> str:
        head = self.operation.split(" ", 1)[0]
        return head if head.isupper() and not self.database else "POST"

    @property
    def path(self) -> str:
        parts = self.operation.split(" ", 1)
        return parts[1] if len(parts) == 2 and parts[1].startswith("/") else "/"

    def url(self, language: Language) -> str:
        if self.external:
            return f"https://{self.name}.example.com{self.path}"
        host = f"{self.name}.prod.svc.cluster.local" if language in ("go", "java") else self.name
        return f"http://{host}:{self.port}{self.path}"


def _call(language: Language, mode: FailureMode, peer: Peer, dns: str) -> tuple[str, str]:
    """What a service in ``language`` logs when a call to ``peer`` fails in ``mode``."""
    url, name, address, port = peer.url(language), peer.name, peer.address, peer.port
    method = peer.method
    if peer.database and mode in ("error", "timeout"):
        return "ERROR", _database_failure(language, mode, peer)
    if language == "java":
        table = {
            "error": f'org.springframework.web.client.HttpServerErrorException$InternalServerError: 500 Internal Server Error: [no body] on {method} request for "{url}"',
            "unavailable": f'org.springframework.web.client.HttpServerErrorException$ServiceUnavailable: 503 Service Unavailable on {method} request for "{url}"',
            "refused": f'org.springframework.web.client.ResourceAccessException: I/O error on {method} request for "{url}": Connection refused; nested exception is java.net.ConnectException: Connection refused',
            "timeout": f'org.springframework.web.client.ResourceAccessException: I/O error on {method} request for "{url}": Read timed out; nested exception is java.net.SocketTimeoutException: Read timed out',
            "unreachable": f"java.net.NoRouteToHostException: No route to host (Host unreachable) connecting to {name}/{address}:{port}",
            "tls": f"javax.net.ssl.SSLHandshakeException: PKIX path validation failed: java.security.cert.CertificateExpiredException: NotAfter: Mon Mar 02 00:00:00 UTC 2026 (host {name})",
            "dns": f"java.net.UnknownHostException: {name}.prod.svc.cluster.local: Name or service not known",
            "throttled": f'org.springframework.web.client.HttpClientErrorException$TooManyRequests: 429 Too Many Requests on {method} request for "{url}"',
            "unauthorized": f'org.springframework.web.client.HttpClientErrorException$Unauthorized: 401 Unauthorized: "{{"error":"invalid_token"}}" on {method} request for "{url}"',
        }
    elif language == "go":
        table = {
            "error": f"request to {name} failed: unexpected status 500 from {method} {url}",
            "unavailable": f"request to {name} failed: unexpected status 503 from {method} {url}",
            "refused": f"dial tcp {address}:{port}: connect: connection refused",
            "timeout": f'{method} "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
            "unreachable": f"dial tcp {address}:{port}: connect: no route to host",
            "tls": f'{method} "{url}": tls: failed to verify certificate: x509: certificate has expired or is not yet valid',
            "dns": f"dial tcp: lookup {name}.prod.svc.cluster.local on {dns}:53: server misbehaving",
            "throttled": f"rpc error: code = ResourceExhausted desc = {name}: quota exhausted, retry after {{n}}s",
            "unauthorized": f"{method} {url}: oauth2: token rejected: 401 Unauthorized",
        }
    elif language == "python":
        host = f"HTTPConnectionPool(host='{name}', port={port})"
        table = {
            "error": f"requests.exceptions.HTTPError: 500 Server Error: Internal Server Error for url: {url}",
            "unavailable": f"requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: {url}",
            "refused": f"requests.exceptions.ConnectionError: {host}: Max retries exceeded with url: {peer.path} (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at {{hex}}>: Failed to establish a new connection: [Errno 111] Connection refused'))",
            "timeout": f"requests.exceptions.ReadTimeout: {host}: Read timed out. (read timeout={{secs}})",
            "unreachable": f"requests.exceptions.ConnectTimeout: {host}: Max retries exceeded with url: {peer.path} (Caused by ConnectTimeoutError(<urllib3.connection.HTTPConnection object at {{hex}}>, 'Connection to {name} timed out. (connect timeout={{secs}})'))",
            "tls": f"requests.exceptions.SSLError: HTTPSConnectionPool(host='{name}', port=443): Max retries exceeded (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)')))",
            "dns": f"requests.exceptions.ConnectionError: {host}: Max retries exceeded with url: {peer.path} (Caused by NameResolutionError(\"Failed to resolve '{name}' ([Errno -2] Name or service not known)\"))",
            "throttled": f"requests.exceptions.HTTPError: 429 Client Error: Too Many Requests for url: {url}",
            "unauthorized": f"requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: {url}",
        }
    elif language == "node":
        table = {
            "error": f"AxiosError: Request failed with status code 500 ({method} {url})",
            "unavailable": f"AxiosError: Request failed with status code 503 ({method} {url})",
            "refused": f"Error: connect ECONNREFUSED {address}:{port}",
            "timeout": f"AxiosError: timeout of {{timeout}}ms exceeded ({method} {url})",
            "unreachable": f"Error: read ECONNRESET (socket to {address}:{port})",
            "tls": f"Error: certificate has expired (code CERT_HAS_EXPIRED, host {name})",
            "dns": f"Error: getaddrinfo ENOTFOUND {name}",
            "throttled": f"AxiosError: Request failed with status code 429 ({method} {url})",
            "unauthorized": f"AxiosError: Request failed with status code 401 ({method} {url})",
        }
    elif language == "dotnet":
        table = {
            "error": f"System.Net.Http.HttpRequestException: Response status code does not indicate success: 500 (Internal Server Error). Request: {method} {url}",
            "unavailable": f"System.Net.Http.HttpRequestException: Response status code does not indicate success: 503 (Service Unavailable). Request: {method} {url}",
            "refused": f"System.Net.Http.HttpRequestException: Connection refused ({name}:{port}) ---> System.Net.Sockets.SocketException (111): Connection refused",
            "timeout": f"System.Threading.Tasks.TaskCanceledException: The request was canceled due to the configured HttpClient.Timeout of {{secs}} seconds elapsing. ---> System.TimeoutException: The operation was canceled. Request: {method} {url}",
            "unreachable": f"System.Net.Http.HttpRequestException: No route to host ({name}:{port}) ---> System.Net.Sockets.SocketException (113): No route to host",
            "tls": f"System.Net.Http.HttpRequestException: The SSL connection could not be established, see inner exception. ---> System.Security.Authentication.AuthenticationException: The remote certificate is invalid because of errors in the certificate chain: NotTimeValid ({name})",
            "dns": f"System.Net.Http.HttpRequestException: Name or service not known ({name}:{port}) ---> System.Net.Sockets.SocketException (0xFFFDFFFF): Name or service not known",
            "throttled": f"System.Net.Http.HttpRequestException: Response status code does not indicate success: 429 (Too Many Requests). Request: {method} {url}",
            "unauthorized": f"System.Net.Http.HttpRequestException: Response status code does not indicate success: 401 (Unauthorized). Request: {method} {url}",
        }
    else:  # ruby
        table = {
            "error": f"Faraday::ServerError: the server responded with status 500 ({method} {url})",
            "unavailable": f"Faraday::ServerError: the server responded with status 503 ({method} {url})",
            "refused": f'Faraday::ConnectionFailed: Failed to open TCP connection to {name}:{port} (Connection refused - connect(2) for "{name}" port {port})',
            "timeout": f"Net::ReadTimeout: Net::ReadTimeout with #<TCPSocket:(closed)> ({method} {url})",
            "unreachable": f"Net::OpenTimeout: Failed to open TCP connection to {name}:{port} (execution expired)",
            "tls": f"Faraday::SSLError: SSL_connect returned=1 errno=0 peeraddr={address}:443 state=error: certificate verify failed (certificate has expired)",
            "dns": f"Faraday::ConnectionFailed: Failed to open TCP connection to {name}:{port} (getaddrinfo: Name or service not known)",
            "throttled": f"Faraday::TooManyRequestsError: the server responded with status 429 ({method} {url})",
            "unauthorized": f"Faraday::UnauthorizedError: the server responded with status 401 ({method} {url})",
        }
    key = "unavailable" if mode == "pool" else mode
    level = "WARN" if mode == "throttled" else "ERROR"
    return level, table[key]


def _database_failure(language: Language, mode: FailureMode, peer: Peer) -> str:
    name = peer.name
    if mode == "timeout":
        return {
            "java": f"org.springframework.dao.QueryTimeoutException: PreparedStatementCallback; SQL [{peer.operation} ...]; ERROR: canceling statement due to statement timeout (database {name})",
            "go": f"query {peer.operation} on {name}: context deadline exceeded",
            "python": f"sqlalchemy.exc.OperationalError: (psycopg2.errors.QueryCanceled) canceling statement due to statement timeout [host {name}]",
            "node": f"QueryFailedError: Query read timeout ({name})",
            "dotnet": f"Npgsql.NpgsqlException (0x80004005): Exception while reading from stream ---> System.TimeoutException: Timeout during reading attempt (Host={name})",
            "ruby": f"ActiveRecord::QueryCanceled: PG::QueryCanceled: ERROR:  canceling statement due to statement timeout (host {name})",
        }[language]
    return {
        "java": f"org.postgresql.util.PSQLException: ERROR: could not serialize access due to concurrent update (database {name})",
        "go": f"pq: could not serialize access due to concurrent update (db {name})",
        "python": f"psycopg2.errors.SerializationFailure: could not serialize access due to concurrent update [host {name}]",
        "node": f"error: could not serialize access due to concurrent update (host {name})",
        "dotnet": f"Npgsql.PostgresException (0x80004005): 40001: could not serialize access due to concurrent update (Host={name})",
        "ruby": f"ActiveRecord::SerializationFailure: PG::TRSerializationFailure: ERROR:  could not serialize access due to concurrent update (host {name})",
    }[language]


def call_failure(language: Language, mode: FailureMode, peer: Peer, dns: str) -> tuple[str, str]:
    """The level and the pattern of the line a failed call to ``peer`` leaves."""
    return _call(language, mode, peer, dns)


# What a service writes about itself, by event and language. ``{peer}`` is replaced by the
# name of the service the event concerns (a breaker's dependency, a database).
OWN: dict[str, dict[Language, tuple[str, str]]] = {
    "server_error": {
        "java": (
            "ERROR",
            "Servlet.service() for servlet [dispatcherServlet] threw exception [Request processing failed] (trace {hex})",
        ),
        "go": (
            "ERROR",
            'handler returned an error status=500 err="internal error" request_id={uuid}',
        ),
        "python": ("ERROR", "Internal Server Error: /api/v1/items/{id}"),
        "node": ("ERROR", "Unhandled rejection in request handler (request {uuid})"),
        "dotnet": (
            "ERROR",
            "An unhandled exception has occurred while executing the request. TraceId {hex}",
        ),
        "ruby": ("ERROR", "Completed 500 Internal Server Error in {ms}ms (ActiveRecord: 0.0ms)"),
    },
    "client_gone": {
        "java": (
            "WARN",
            "org.apache.catalina.connector.ClientAbortException: java.io.IOException: Broken pipe",
        ),
        "go": ("WARN", "http2: stream closed by client (stream {id})"),
        "python": (
            "WARN",
            "ConnectionResetError: [Errno 104] Connection reset by peer while writing the response",
        ),
        "node": ("WARN", "Error: aborted (code ECONNRESET) while reading the request body"),
        "dotnet": (
            "WARN",
            "Microsoft.AspNetCore.Connections.ConnectionResetException: The client has disconnected",
        ),
        "ruby": ("WARN", "Puma caught this error: Broken pipe (Errno::EPIPE)"),
    },
    "slow": {
        "java": ("WARN", "Slow request: {op} completed in {ms} ms"),
        "go": ("WARN", "request finished slowly method={method} path={path} duration={ms}ms"),
        "python": ("WARN", "slow response for {op}: {ms} ms"),
        "node": ("WARN", "{op} responded in {ms}ms (above the 1000ms budget)"),
        "dotnet": ("WARN", "Request finished {op} - 200 in {ms}ms (slow)"),
        "ruby": ("WARN", "Completed 200 OK in {ms}ms ({op}) [slow]"),
    },
    "oom_kill": {
        "java": (
            "ERROR",
            "java.lang.OutOfMemoryError: Java heap space; the JVM exits (restart {n})",
        ),
        "go": ("ERROR", "fatal error: runtime: out of memory (restart {n})"),
        "python": (
            "ERROR",
            "Worker (pid:{id}) was sent SIGKILL! Perhaps out of memory? (restart {n})",
        ),
        "node": (
            "ERROR",
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory (restart {n})",
        ),
        "dotnet": (
            "ERROR",
            "System.OutOfMemoryException: Exception of type 'System.OutOfMemoryException' was thrown. (restart {n})",
        ),
        "ruby": ("ERROR", "NoMemoryError: failed to allocate memory (restart {n})"),
    },
    "pool_timeout": {
        "java": (
            "ERROR",
            "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.",
        ),
        "go": ("ERROR", "pgxpool: acquire connection: context deadline exceeded ({n} waiting)"),
        "python": (
            "ERROR",
            "sqlalchemy.exc.TimeoutError: QueuePool limit of size 20 overflow 10 reached, connection timed out, timeout 30.00",
        ),
        "node": (
            "ERROR",
            "KnexTimeoutError: Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?",
        ),
        "dotnet": (
            "ERROR",
            "System.InvalidOperationException: Timeout expired. The timeout period elapsed prior to obtaining a connection from the pool. This may have occurred because all pooled connections were in use and max pool size was reached.",
        ),
        "ruby": (
            "ERROR",
            "ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool within 5.000 seconds (waited 5.00{n} seconds); all pooled connections were in use",
        ),
    },
    "throttling": {
        "java": ("WARN", "Bucket4j: rate limit exhausted for key {hex}, answering 429"),
        "go": ("WARN", "ratelimit: rejected request from {ip}: limit exceeded"),
        "python": ("WARN", "Request was throttled. Expected available in {n} seconds."),
        "node": ("WARN", "express-rate-limit: too many requests from {ip}"),
        "dotnet": ("WARN", "Rate limiter rejected the request with 429 (partition {hex})"),
        "ruby": ("WARN", "Rack::Attack throttled request from {ip} (req/ip)"),
    },
    "rejected": {
        "java": (
            "ERROR",
            "java.util.concurrent.RejectedExecutionException: Task java.util.concurrent.FutureTask@{hex} rejected from java.util.concurrent.ThreadPoolExecutor@{hex}[Running, pool size = 200, active threads = 200, queued tasks = 1000, completed tasks = {id}]",
        ),
        "go": ("ERROR", "server overloaded: shedding request (inflight {n})"),
        "python": ("ERROR", "[CRITICAL] WORKER TIMEOUT (pid:{id})"),
        "node": ("ERROR", "Error: server overloaded, event loop delay {ms}ms (503)"),
        "dotnet": (
            "ERROR",
            "System.Threading.RateLimiting: ConcurrencyLimiter queue full; request rejected with 503 after {ms}ms",
        ),
        "ruby": (
            "ERROR",
            "Puma::ThreadPool: request queue full, rejecting connection ({n} waiting)",
        ),
    },
    "breaker_open": {
        "java": (
            "ERROR",
            "io.github.resilience4j.circuitbreaker.CallNotPermittedException: CircuitBreaker '{peer}' is OPEN and does not permit further calls",
        ),
        "go": ("ERROR", "call to {peer} rejected: gobreaker: circuit breaker is open"),
        "python": (
            "ERROR",
            "pybreaker.CircuitBreakerError: Timeout not elapsed yet, circuit breaker still open ({peer})",
        ),
        "node": ("ERROR", "OpenCircuitError: Breaker is open ({peer})"),
        "dotnet": (
            "ERROR",
            "Polly.CircuitBreaker.BrokenCircuitException: The circuit is now open and is not allowing calls. ({peer})",
        ),
        "ruby": ("ERROR", "Circuitbox::OpenCircuitError: Circuit for {peer} is open"),
    },
    "db_auth": {
        "java": (
            "ERROR",
            'org.postgresql.util.PSQLException: FATAL: password authentication failed for user "app_rw" (host {peer})',
        ),
        "go": (
            "ERROR",
            'failed to connect to `host={peer} user=app_rw database=app`: failed SASL auth (FATAL: password authentication failed for user "app_rw" (SQLSTATE 28P01))',
        ),
        "python": (
            "ERROR",
            'psycopg2.OperationalError: connection to server at "{peer}" ({ip}), port 5432 failed: FATAL:  password authentication failed for user "app_rw"',
        ),
        "node": ("ERROR", 'error: password authentication failed for user "app_rw" (host {peer})'),
        "dotnet": (
            "ERROR",
            'Npgsql.PostgresException (0x80004005): 28P01: password authentication failed for user "app_rw" (Host={peer})',
        ),
        "ruby": (
            "ERROR",
            'PG::ConnectionBad: connection to server at "{peer}" ({ip}), port 5432 failed: FATAL:  password authentication failed for user "app_rw"',
        ),
    },
    "null_error": {
        "java": (
            "ERROR",
            'java.lang.NullPointerException: Cannot invoke "com.acme.Order.getLines()" because "order" is null',
        ),
        "go": (
            "ERROR",
            "panic: runtime error: invalid memory address or nil pointer dereference [signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc={hex}]",
        ),
        "python": ("ERROR", "TypeError: 'NoneType' object is not subscriptable"),
        "node": ("ERROR", "TypeError: Cannot read properties of undefined (reading 'lines')"),
        "dotnet": (
            "ERROR",
            "System.NullReferenceException: Object reference not set to an instance of an object.",
        ),
        "ruby": ("ERROR", "NoMethodError: undefined method `lines' for nil:NilClass"),
    },
    # What a caller writes about a wrong value it got back (`code_faults`' wrong returns).
    "bad_result": {
        "java": ("WARN", "Unexpected empty response from {peer}; returning 502 to the client"),
        "go": ("WARN", "unexpected empty result from {peer}: no items for request {id}"),
        "python": ("WARN", "Got an empty result from {peer} for request {id}; responding 502"),
        "node": ("WARN", "empty payload from {peer}, sending 502 for request {id}"),
        "dotnet": ("WARN", "Empty response body from {peer}; returning BadGateway"),
        "ruby": ("WARN", "Blank result from {peer} for request {id}, rendering 502"),
    },
    "config_invalid": {
        "java": (
            "ERROR",
            "java.lang.IllegalArgumentException: No enum constant java.math.RoundingMode.HALF_AWAY (property pricing.rounding-mode)",
        ),
        "go": ("ERROR", 'price: invalid value "HALF_AWAY" for PRICING_ROUNDING_MODE'),
        "python": (
            "ERROR",
            "ValueError: 'HALF_AWAY' is not a valid RoundingMode (settings.PRICING_ROUNDING_MODE)",
        ),
        "node": (
            "ERROR",
            "RangeError: Invalid rounding mode 'HALF_AWAY' from PRICING_ROUNDING_MODE",
        ),
        "dotnet": (
            "ERROR",
            "System.ArgumentException: Requested value 'HALF_AWAY' was not found. (Pricing:RoundingMode)",
        ),
        "ruby": ("ERROR", "ArgumentError: unknown rounding mode HALF_AWAY (PRICING_ROUNDING_MODE)"),
    },
    "gc_pressure": {
        "java": ("WARN", "[gc] Pause Full (G1 Compaction Pause) {n}M->{n}M(1024M) {ms}ms"),
        "go": ("WARN", "memory usage high: heap_inuse={n}MiB, GC running every {ms}ms"),
        "python": ("WARN", "worker memory above soft limit: {n} MiB"),
        "node": (
            "WARN",
            "<--- Last few GCs ---> Mark-sweep {n}.{n} ({n}.{n}) -> {n}.{n} MB, {ms} ms",
        ),
        "dotnet": (
            "WARN",
            "GC heap hard limit approaching: {n} MB in use, gen2 collection took {ms}ms",
        ),
        "ruby": ("WARN", "GC: heap_live_slots={id} major_gc_count={n} (memory growing)"),
    },
    "slow_query": {
        "java": (
            "WARN",
            "Slow query ({ms} ms) on {peer}: select o.* from orders o where o.customer_id=? order by o.created_at desc",
        ),
        "go": (
            "WARN",
            'slow sql query on {peer} elapsed={ms}ms query="SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC"',
        ),
        "python": (
            "WARN",
            "slow query on {peer}: {ms} ms SELECT orders.* FROM orders WHERE orders.customer_id = %(customer_id)s ORDER BY orders.created_at DESC",
        ),
        "node": (
            "WARN",
            'query is slow ({ms}ms) on {peer}: SELECT * FROM "orders" WHERE "customer_id" = $1 ORDER BY "created_at" DESC',
        ),
        "dotnet": (
            "WARN",
            "Executed DbCommand ({ms}ms) [Parameters=[@__customerId_0='?'], CommandType='Text', CommandTimeout='30'] on {peer}: SELECT o.* FROM orders AS o WHERE o.customer_id = @__customerId_0 ORDER BY o.created_at DESC",
        ),
        "ruby": (
            "WARN",
            'Order Load ({ms}ms)  SELECT "orders".* FROM "orders" WHERE "orders"."customer_id" = $1 ORDER BY "orders"."created_at" DESC [host {peer}]',
        ),
    },
    "cache_miss": {
        "java": ("INFO", "Cache 'products' miss for key product:{id}, loading from {peer}"),
        "go": ("INFO", "cache miss key=product:{id} source={peer}"),
        "python": ("INFO", "cache miss for product:{id}; reading {peer}"),
        "node": ("INFO", "cache MISS product:{id} -> {peer}"),
        "dotnet": ("INFO", "IDistributedCache miss for product:{id}; falling back to {peer}"),
        "ruby": ("INFO", "Cache read: product/{id} (miss) fetching from {peer}"),
    },
    "flag_refresh": {
        "java": (
            "ERROR",
            "Failed to refresh flag snapshot: java.net.SocketTimeoutException: timeout after {ms}ms",
        ),
        "go": ("ERROR", "flags: refresh failed: context canceled after {ms}ms"),
        "python": ("ERROR", "unleash: failed to fetch toggles: ReadTimeout after {ms}ms"),
        "node": (
            "ERROR",
            "[LaunchDarkly] Error on stream connection: timeout after {ms}ms, will retry",
        ),
        "dotnet": ("ERROR", "Feature flag refresh failed: TaskCanceledException after {ms}ms"),
        "ruby": ("ERROR", "Flipper adapter sync failed: Net::ReadTimeout after {ms}ms"),
    },
}


def own(event: str, language: Language, peer: str = "") -> tuple[str, str]:
    """The level and pattern of a line a service writes about itself (``event`` of `OWN`)."""
    level, pattern = OWN[event][language]
    return level, pattern.replace("{peer}", peer)
