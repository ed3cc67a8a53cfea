"""A Django app configured in code, served by werkzeug's WSGI server on loopback, in its own process (Django's
settings are configured once per process: other tests may configure it differently). Prints one JSON line
{"ours": port, "proxyfix": port, "untrusting": port} and serves until killed or stdin closes.

    ours        ForwardedPrefixMiddleware (trusts loopback)
    proxyfix    werkzeug's ProxyFix(x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
    untrusting  ForwardedPrefixMiddleware(trusted=["192.0.2.1"]): the gateway at 127.0.0.1 is not trusted
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="a-test-only-secret-key-that-is-long-enough-for-django",
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "example.org"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.sessions"],
    MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    DATABASES={},
    USE_TZ=True,
)
django.setup()

from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.shortcuts import redirect  # noqa: E402
from django.urls import get_script_prefix, path, reverse  # noqa: E402


def index(request: HttpRequest) -> HttpResponse:
    return JsonResponse(
        {
            "login": reverse("login"),
            "absolute": request.build_absolute_uri(reverse("login")),
            "script_prefix": get_script_prefix(),
            "remote_addr": request.META.get("REMOTE_ADDR"),
        }
    )


def login(request: HttpRequest) -> HttpResponse:
    request.session["user"] = "ada"
    return redirect("whoami")


def whoami(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"user": request.session.get("user")})


urlpatterns = [path("", index, name="index"), path("login", login, name="login"), path("whoami", whoami, name="whoami")]


def main() -> None:
    from django.core.wsgi import get_wsgi_application
    from werkzeug.middleware.proxy_fix import ProxyFix
    from werkzeug.serving import make_server

    from proxy.wsgi import ForwardedPrefixMiddleware

    app: Any = get_wsgi_application()
    apps = {
        "ours": ForwardedPrefixMiddleware(app),
        "proxyfix": ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1),
        "untrusting": ForwardedPrefixMiddleware(app, trusted=["192.0.2.1"]),
    }
    ports = {}
    for name, wrapped in apps.items():
        server = make_server("127.0.0.1", 0, wrapped, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ports[name] = server.server_port
    print(json.dumps(ports), flush=True)
    sys.stdin.read()  # the test closes our stdin (or kills us) to stop


if __name__ == "__main__":
    main()
