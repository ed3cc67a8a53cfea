"""The apps of the real-app tests: each written as if it lived at `/`, with nothing configured for a prefix
unless `knows_prefix` says so."""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations (Request) at runtime.

from typing import Any


def fastapi_app() -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, RedirectResponse

    app = FastAPI()  # redirect_slashes=True: `/items` answers 307 to `http://<Host>/items/`

    @app.get("/items/")
    async def items() -> dict[str, list[int]]:
        return {"items": [1, 2]}

    @app.get("/")
    async def home() -> RedirectResponse:
        return RedirectResponse("/login")  # a literal absolute path

    @app.get("/home")
    async def home_by_name(request: Request) -> RedirectResponse:
        return RedirectResponse(str(request.url_for("login")))  # built from the request: root_path aware

    @app.get("/login", name="login")
    async def login(request: Request) -> JSONResponse:
        response = JSONResponse({"page": "login", "root_path": request.scope.get("root_path", "")})
        response.set_cookie("seen", "1", path=request.scope.get("root_path") or "/")
        return response

    return app


def flask_app(knows_prefix: bool = False) -> Any:
    from flask import Flask, redirect, request, session, url_for
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = Flask("prefixapp")
    app.secret_key = "not-a-secret"
    if knows_prefix:  # SCRIPT_NAME from X-Forwarded-Prefix, and the session cookie scoped to it
        app.config["SESSION_COOKIE_PATH"] = "/api/v1"

    @app.route("/")
    def index() -> Any:
        return redirect(url_for("login"))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "POST":
            session["user"] = request.form["user"]
            return redirect(url_for("profile"))
        return f'<form method="post" action="{url_for("login")}"><input name="user"></form>'

    @app.route("/profile")
    def profile() -> Any:
        if "user" not in session:
            return redirect(url_for("login"))
        return f"hello {session['user']}"

    if knows_prefix:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    return app


def django_wsgi_app(db_path: str) -> Any:
    """Django's admin, settings configured in code (once per process), sqlite at `db_path`, one superuser."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="not-a-secret-either-but-long-enough-for-django-checks",
            ALLOWED_HOSTS=["*"],
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
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path}},
            USE_TZ=True,
            STATIC_URL="/static/",
            DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        )
        django.setup()
        from django.contrib.auth.models import User
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        User.objects.create_superuser("admin", "admin@example.invalid", "pw-for-tests")
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _urls() -> list[Any]:
    from django.contrib import admin
    from django.urls import path

    return [path("admin/", admin.site.urls)]


def __getattr__(name: str) -> Any:  # Django reads `urlpatterns` from ROOT_URLCONF (this module) lazily
    if name == "urlpatterns":
        return _urls()
    raise AttributeError(name)
