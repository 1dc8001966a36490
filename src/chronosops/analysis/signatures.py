"""Failure signatures of log lines across Java, Go, Python, Node, .NET and Ruby, as data.

Each row adds phrases to a log category the rules read (matched on the lower-cased template and
its examples). The categories and what they stand for:

| category | what the line says | e.g. |
|---|---|---|
| `timeout` | a call ran out of time | `SocketTimeoutException`, `context deadline exceeded`, `ETIMEDOUT`, `TaskCanceledException`, `Net::ReadTimeout` |
| `refused` | a connection was refused or reset | `ConnectException: Connection refused`, `ECONNREFUSED`, `ECONNRESET`, `Errno::ECONNREFUSED` |
| `pool_exhausted` | a connection pool ran dry | HikariCP `Connection is not available`, SQLAlchemy `QueuePool limit`, `ActiveRecord::ConnectionTimeoutError`, ADO.NET pool timeout, pgx `pgxpool: acquire connection`, Knex `Timeout acquiring a connection` |
| `worker_saturation` | threads or workers rejected work, or the server shed load | `RejectedExecutionException`, `server overloaded`, `load shedding`, `EMFILE`, Gunicorn `WORKER TIMEOUT (pid:…)` |
| `oom` | memory ran out | `java.lang.OutOfMemoryError`, `runtime: out of memory`, `MemoryError`, `JavaScript heap out of memory`, `NoMemoryError` |
| `dns` | a name did not resolve | `UnknownHostException`, `no such host`, `ENOTFOUND`, `EAI_AGAIN`, `Name or service not known` |
| `tls` | a certificate or handshake failed | `SSLHandshakeException`, `x509:`, `CERT_HAS_EXPIRED`, `certificate verify failed` |
| `auth` | a token or identity check failed (OIDC, JWT, 401/403) | `ExpiredJwtException`, `invalid_grant`, `SecurityTokenExpiredException` |
| `db_credentials` | the database refused the service's credentials (a rotated or wrong password is configuration, not identity) | `password authentication failed for user`, `Access denied for user`, `Login failed for user`, `ORA-01017` |
| `rate_limited` | a limiter answered 429 / throttled | `Too Many Requests`, `ThrottlingException`, `RESOURCE_EXHAUSTED` (gRPC Go: `code = ResourceExhausted`), `quota exhausted`, `SlowDown` |
| `circuit_open` | a circuit breaker is open | resilience4j `CallNotPermittedException`, Polly `BrokenCircuitException`, `gobreaker`, `Circuitbox::OpenCircuitError`, Hystrix short-circuited |
| `db_slow` | a query ran slow (ORMs print the statement with its time) | `Slow query`, GORM `SLOW SQL >= 200ms`, `query is slow`, ActiveRecord `Order Load (312.4ms)  SELECT`, EF Core `Executed DbCommand (412ms)`, MySQL `Query_time:` |
| `config_error` | the service rejects its own configuration | Spring `Could not resolve placeholder`, `Failed to bind properties`, .NET `OptionsValidationException`, Django `ImproperlyConfigured`, an unset environment variable, a value rejected by the setting it was read from (`Invalid rounding mode 'HALF_AWAY' from PRICING_ROUNDING_MODE`) |
| `code_bug` | the code itself failed | `NullPointerException`, `nil pointer dereference`, `NullReferenceException`, `NoMethodError`, `Cannot read properties of undefined`, `ClassCastException` |
"""

from __future__ import annotations

SIGNATURES: tuple[tuple[str, str], ...] = (
    (
        "timeout",
        r"sockettimeoutexception|read timed out|connecttimeoutexception|context deadline exceeded"
        r"|etimedout|esockettimedout|taskcanceledexception|timeoutexception|net::(read|open)timeout"
        r"|timeout::error|asyncio\.timeouterror|readtimeout|upstream request timeout",
    ),
    (
        "refused",
        r"connectexception|econnrefused|econnreset|epipe|errno::econnrefused|errno::econnreset"
        r"|connection reset by peer|socketexception|httprequestexception.*(refused|reset)"
        r"|connect: connection refused",
    ),
    (
        "pool_exhausted",
        r"connection is not available, request timed out|hikaripool.*(timeout|not available)"
        r"|queuepool limit|sqlalchemy\.exc\.timeouterror|activerecord::connectiontimeouterror"
        r"|timeout period elapsed prior to obtaining a connection|too many clients already"
        r"|unable to acquire (a )?(jdbc )?connection|pool.*(wait|acquire) timeout"
        # Go pgx, Node Knex / Sequelize / node-postgres, Prisma
        r"|pgxpool.*acquire|acquire connection: context deadline exceeded"
        r"|timeout acquiring a connection|pool is probably full|connectionacquiretimeouterror"
        r"|timeout exceeded when trying to connect|timed out fetching a new connection",
    ),
    (
        "worker_saturation",
        r"rejectedexecutionexception|esrejectedexecutionexception|server (is )?overloaded"
        r"|too busy|load ?shedding|shedding load|overloaded, rejecting|emfile|too many open files"
        r"|thread ?pool.*(full|reject)|queue capacity|backpressure"
        # Gunicorn killing a worker that held a request past its timeout; uWSGI's full backlog
        r"|worker timeout \(pid|listen queue of socket .* full",
    ),
    (
        "oom",
        r"outofmemoryerror|runtime: out of memory|memoryerror|javascript heap out of memory"
        r"|outofmemoryexception|nomemoryerror|oomkilled|gc overhead limit exceeded",
    ),
    (
        "dns",
        r"unknownhostexception|enotfound|eai_again|name or service not known"
        r"|temporary failure in name resolution|socketerror: getaddrinfo|nodename nor servname",
    ),
    (
        "tls",
        r"sslhandshakeexception|cert_has_expired|certificate verify failed"
        r"|remote certificate is invalid|certificate has expired|unable to verify the first certificate",
    ),
    (
        "auth",
        r"expiredjwtexception|jwt expired|invalid_token|invalid_grant|securitytokenexpiredexception"
        r"|token has expired|oidc|id token|jwks|signature verification failed",
    ),
    (
        "db_credentials",
        r"password authentication failed for user|access denied for user|login failed for user"
        r"|ora-01017|sqlstate\[28000\]|sqlstate 28p01|pg::connectionbad.*password"
        r"|invalid username/password|authentication failed.*(database|postgres|mysql|jdbc|db)",
    ),
    (
        "rate_limited",
        r"throttlingexception|requestlimitexceeded|rate exceeded|slowdown|resource_exhausted"
        r"|toomanyrequests|code = resourceexhausted|quota (exhausted|exceeded)"
        r"|usage limit exceeded|requests per (second|minute) exceeded",
    ),
    (
        "circuit_open",
        r"callnotpermittedexception|brokencircuitexception|gobreaker|circuitbox::opencircuiterror"
        r"|short-circuited|hystrixruntimeexception.*short|breaker (is )?open|circuit.*\bopen\b",
    ),
    (
        "db_slow",
        # An ORM's timed statement counts from 100 ms (three digits): below that it is the
        # ordinary per-query line ActiveRecord and EF Core print for every statement.
        r"slow sql|slow (sql )?query|query is slow|slowquery|query_time:"
        r"|\b[a-z]+ load \(\d{3,}(\.\d+)? ?ms\)|executed dbcommand \(\d{3,}(\.\d+)? ?ms\)",
    ),
    (
        "config_error",
        # Spring's unresolved placeholder and failed binding, .NET's options validation,
        # Django's ImproperlyConfigured, pydantic-settings' and Go envconfig's rejections, an
        # unset environment variable, and a value rejected by the setting it was read from
        # (`Invalid rounding mode 'HALF_AWAY' from PRICING_ROUNDING_MODE`)
        r"could not resolve placeholder|failed to bind properties|bindvalidationexception"
        r"|optionsvalidationexception|improperlyconfigured|validation errors? for settings"
        r"|envconfig[.:]|(environment variable|env var) \S+ (is )?(not set|missing|required|empty)"
        r"|invalid [a-z]+( [a-z]+)? \S+ (read )?from [a-z][a-z0-9]*(_[a-z0-9]+)+\b",
    ),
    (
        "code_bug",
        r"nullpointerexception|nil pointer dereference|nullreferenceexception|nomethoderror"
        r"|cannot read propert(y|ies) of (undefined|null)|classcastexception"
        r"|illegalargumentexception|illegalstateexception|invalid memory address",
    ),
)


def extra_patterns() -> dict[str, str]:
    """Category → one alternation of this table's phrases."""
    found: dict[str, list[str]] = {}
    for category, pattern in SIGNATURES:
        found.setdefault(category, []).append(f"(?:{pattern})")
    return {category: "|".join(parts) for category, parts in found.items()}
