"""gunicorn settings for aadweb:  gunicorn -c examples/gunicorn.conf.py aadweb.wsgi:app

Every worker imports ``aadweb.wsgi`` and builds the app from the same environment, so:

* ``AADWEB_SECRET_KEY`` must be the same for every worker (and every host): it signs the
  session cookies and derives the key that encrypts tokens at rest.
* The default session store ``sqlite:///aadweb-sessions.db`` is shared by the workers of one
  host (WAL mode); several hosts need ``AADWEB_SESSION_STORE=redis://...``.
* An invalid configuration makes the import fail with every problem listed, and gunicorn
  refuses to boot: run ``aadweb check-config`` first.
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

# A worker that stays silent longer than this is killed. It must stay above the app's own
# deadlines, so the app answers with its "took too long, try again" page before gunicorn
# kills the worker: one request makes at most three outbound calls in a row (metadata, keys,
# token on a cold worker), each bounded by AADWEB_HTTP_TIMEOUT (default 10 seconds).
_http_timeout = float(os.environ.get("AADWEB_HTTP_TIMEOUT") or 10)
timeout = math.ceil(3 * _http_timeout) + 5
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
