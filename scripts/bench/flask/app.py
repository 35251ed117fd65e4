"""The tutorial's own app: Flask + Flask-Session with Redis, for
scripts/bench.sh --peers (run under gunicorn). Redis database $REDIS_DB at
$REDIS_ADDR."""
import os

import redis
from flask import Flask, redirect, render_template_string, request, session
from flask_session import Session

app = Flask(__name__)
app.secret_key = os.environ["SECRET_KEY"]
host, port = os.environ["REDIS_ADDR"].rsplit(":", 1)
app.config["SESSION_TYPE"] = "redis"
app.config["SESSION_PERMANENT"] = False
app.config["SESSION_USE_SIGNER"] = True
app.config["SESSION_REDIS"] = redis.Redis(host=host, port=int(port), db=int(os.environ["REDIS_DB"]))
Session(app)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Welcome</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<main>
{% if email %}<h1>Welcome {{ email }}!</h1>
{% else %}<h1>Welcome! Please enter your email <a href="/set_email">here.</a></h1>{% endif %}
</main>
</body>
</html>
"""


@app.route("/healthz")
def healthz():
    return "ok"


@app.route("/set_email", methods=["POST"])
def set_email():
    session["email"] = request.form["email_address"]
    return redirect("/get_email", code=303)


@app.route("/get_email")
def get_email():
    return render_template_string(PAGE, email=session.get("email"))
