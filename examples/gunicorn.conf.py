"""gunicorn settings for aadweb:  gunicorn -c examples/gunicorn.conf.py aadweb.wsgi:app

Every worker imports ``aadweb.wsgi`` and builds the app from the same environment, so:

* ``AADWEB_SECRET_KEY`` must be the same for every worker (and every host): it signs the
  session cookies and derives the key that encrypts tokens at rest.
* The default session store ``sqlite:///aadweb-sessions.db`` is shared by the workers of one
  host (WAL mode); several hosts need ``AADWEB_SESSION_STORE=redis://...``.
* An invalid configuration makes the import fail with every problem listed, and gunicorn
  refuses to boot: run ``aadweb check-config`` first.
* Put a buffering reverse proxy in front (nginx, below). Neither sync nor gthread workers
  survive slow clients on their own: 50 clients that send their request (or read the answer)
  a byte at a time hold every worker or thread, and nobody else is served. nginx reads each
  request whole before gunicorn sees it, and takes each answer whole so the worker is free at
  once; gunicorn then listens on loopback only.

nginx in front of this configuration (TLS and server_name as usual)::

    upstream aadweb { server 127.0.0.1:5000; keepalive 16; }
    server {
        listen 443 ssl;
        client_header_timeout 10s;        # a slow client is cut off here, not in a worker
        client_body_timeout 10s;
        send_timeout 30s;
        client_max_body_size 64k;         # aadweb's own limit (the form_post callback is a few KB)
        client_body_buffer_size 64k;      # ... so the whole body is read into memory first
        proxy_request_buffering on;       # (nginx default) the whole request before gunicorn
        proxy_buffering on;               # (nginx default) the whole answer, then the slow client
        proxy_buffers 16 16k;
        underscores_in_headers off;       # (nginx default) drop SCRIPT_NAME-style headers
        proxy_connect_timeout 5s;
        proxy_send_timeout 30s;
        proxy_read_timeout 75s;           # at least the worker timeout below (72 s by default)
        location / {
            proxy_pass http://aadweb;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }

with ``AADWEB_TRUSTED_PROXY_HOPS=1``.
"""

import math
import multiprocessing
import os

# Where to listen. Behind a reverse proxy keep it on loopback (or a unix socket); the command
# line's -b/--bind overrides this.
bind = "127.0.0.1:5000"

# Sync workers: each request holds a worker while it waits for the authority or Graph, and every
# outbound call has its own deadline (AADWEB_HTTP_TIMEOUT), so a slow authority cannot pin a
# worker for long. 2 x cores + 1, capped: sign-ins are short and mostly waiting on the network.
worker_class = "sync"
workers = min(2 * multiprocessing.cpu_count() + 1, 12)

# A worker that stays silent longer than this is killed. It must stay above the longest request,
# so the app answers (with its "took too long, try again" page at worst) before gunicorn kills
# the worker. Worst case of one request: 6 x AADWEB_HTTP_TIMEOUT + 2 seconds (62 s with the
# default 10): GET /graphcall waiting for another worker's token refresh (AADWEB_HTTP_TIMEOUT
# + 1), refreshing itself, calling Graph (one deadline, a short Retry-After wait included),
# then, on a 401, a forced refresh and a second Graph call the same way; see
# aadweb.signin.worst_case_seconds. Plus 10 s for the session store and scheduling:
# timeout = 6 x AADWEB_HTTP_TIMEOUT + 12 seconds (72 s with the default).
_http_timeout = float(os.environ.get("AADWEB_HTTP_TIMEOUT") or 10)
_worst_case = 6 * _http_timeout + 2
timeout = math.ceil(_worst_case) + 10
graceful_timeout = timeout

# Behind a reverse proxy: set AADWEB_TRUSTED_PROXY_HOPS to the number of proxies in front of
# gunicorn (usually 1); aadweb then trusts exactly that many X-Forwarded-For/-Proto/-Host hops
# and nothing else. gunicorn trusts X-Forwarded-Proto only from forwarded_allow_ips (default
# loopback); name your proxy's address if it connects from elsewhere:
# forwarded_allow_ips = "10.0.0.5"

# gunicorn takes SCRIPT_NAME and PATH_INFO from request *headers* sent by a forwarded_allow_ips
# peer (loopback by default: the proxy in front, or anyone who reaches gunicorn through one that
# passes headers with underscores). The mount point starts every URL aadweb makes, so a client
# must never choose it: take no such header. Mount aadweb under a path with SCRIPT_NAME in
# gunicorn's environment (e.g. SCRIPT_NAME=/auth gunicorn ...) or a WSGI dispatcher
# (examples/subpath.py). aadweb itself refuses a mount point that is not "/path" (400).
forwarder_headers = ""

# Access log: method, path WITHOUT the query string (%(U)s), status, size, time in ms.
# Never %(r)s (the request line) or %(q)s (the query string): the callback carries the
# authorization code and the state in the query (AADWEB_RESPONSE_TYPE=code). No %(f)s either:
# the Referer can be a URL with a query string. No cookies, no request headers.
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = "info"

proc_name = "aadweb"
