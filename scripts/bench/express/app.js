// The tutorial's session routes on Express 5 + express-session +
// connect-redis, set up as connect-redis' README does, for scripts/bench.sh.
// Listens on 127.0.0.1:$PORT; Redis database $REDIS_DB at $REDIS_ADDR.
import { RedisStore } from "connect-redis";
import express from "express";
import session from "express-session";
import { createClient } from "redis";

const client = createClient({ url: `redis://${process.env.REDIS_ADDR}/${process.env.REDIS_DB}` });
await client.connect();

const app = express();
app.use(session({
  store: new RedisStore({ client }),
  resave: false,
  saveUninitialized: false,
  secret: process.env.SECRET_KEY,
  cookie: { httpOnly: true, sameSite: "lax" },
}));
app.use(express.urlencoded({ extended: false }));

const esc = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, content) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<main>
${content}
</main>
</body>
</html>
`;

app.get("/healthz", (req, res) => res.send("ok"));
app.get("/get_email", (req, res) => {
  const email = req.session.email;
  res.type("html").send(page("Welcome", email
    ? `<h1>Welcome ${esc(email)}!</h1>`
    : `<h1>Welcome! Please enter your email <a href="/set_email">here.</a></h1>`));
});
app.post("/set_email", (req, res) => {
  const email = String(req.body.email_address ?? "").trim();
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(email) || email.length > 254) {
    res.status(400).type("html").send(page("Enter your email", "<p>That is not a valid email address.</p>"));
    return;
  }
  req.session.email = email;
  res.redirect(303, "/get_email");
});

app.listen(Number(process.env.PORT), "127.0.0.1");
