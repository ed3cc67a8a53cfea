"""A Django site (its admin) knowing nothing of its prefix, served by a real WSGI server on loopback.

`python django_site.py PORT [aware]`: serves until killed; prints `serving` once listening. `aware` is the
same site told its prefix the usual way, werkzeug's ProxyFix(x_prefix=1) reading X-Forwarded-Prefix.
Run in its own process: Django's settings are global to a process.
"""

from __future__ import annotations

import sys
import tempfile

import django
from django.conf import settings
from django.urls import path

urlpatterns: list[object] = []


def main(port: int, aware: bool) -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="stripproxy-test-only",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{tempfile.mkdtemp()}/db.sqlite3"}},
        STATIC_URL="/static/",
        USE_TZ=True,
    )
    django.setup()
    from django.contrib import admin
    from django.core.wsgi import get_wsgi_application
    from werkzeug.serving import make_server

    urlpatterns.append(path("admin/", admin.site.urls))
    app = get_wsgi_application()
    if aware:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app = ProxyFix(app, x_prefix=1)
    server = make_server("127.0.0.1", port, app)
    print("serving", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), "aware" in sys.argv[2:])
