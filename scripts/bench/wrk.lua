-- wrk script for scripts/bench.sh. Arguments: SCENARIO [SESSIONS_FILE]
--   read          GET /get_email with a session cookie
--   write-same    POST /set_email with the address the session already holds
--   write-change  POST /set_email with a new address every time, as browsers
--                 that keep the session cookie each response sets
--   write-pref    POST /preferences with the theme the session does not hold
--                 (dark and light in turn): a change of one value, no renewal;
--                 no two requests in flight share a session
--   anon          GET /get_email without a cookie
-- SESSIONS_FILE has one session per line: "<cookie name=value> <email>".
-- Requests cycle through the sessions; each thread starts at its own offset.
-- write-change uses the second half of the sessions, the others the first,
-- so that write-same always finds the address it posts already stored.
-- The scenario also comes in the environment as WRK_SCENARIO: wrk decides
-- whether to hand responses to the script before init sees its arguments.

local threads, next_id = {}, 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local scenario, sessions, n = nil, {}, 0

function init(args)
  scenario = args[1]
  if args[2] then
    for line in io.lines(args[2]) do
      local cookie, email = line:match("^(%S+)%s+(%S+)$")
      if cookie then table.insert(sessions, { cookie = cookie, email = email }) end
    end
  end
  if scenario ~= "anon" and #sessions == 0 then
    error("scenario " .. scenario .. " needs a sessions file")
  end
  n = tid * 997
end

-- write-change: cookies set by responses, each handed to the next request
-- that needs one (a stack that renews the ID on every change is followed,
-- as a browser would); when none is waiting, the sessions file's are used,
-- each once.
local jar, jar_n, fresh = {}, 0, 0

if os.getenv("WRK_SCENARIO") == "write-change" then
  function response(status, headers)
    local cookie = headers["Set-Cookie"] or headers["set-cookie"]
    local pair = cookie and cookie:match("^([^;]+)")
    if pair and not pair:match("=$") and not cookie:match("[Mm]ax%-[Aa]ge=%-") then
      jar_n = jar_n + 1
      jar[jar_n] = pair
    end
  end
end

local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function request()
  n = n + 1
  if scenario == "anon" then
    return wrk.format("GET", "/get_email")
  end
  local half = math.max(1, math.floor(#sessions / 2))
  local s = sessions[n % half + 1]
  if scenario == "write-change" and #sessions > 1 then
    s = sessions[half + n % (#sessions - half) + 1]
  end
  if scenario == "read" then
    return wrk.format("GET", "/get_email", { Cookie = s.cookie })
  end
  if scenario == "write-pref" then
    -- Each thread has its own sessions (every other one), and changes
    -- each in turn, so that no two requests in flight share a session.
    local per = math.max(1, math.floor(half / 2))
    form.Cookie = sessions[((n % per) * 2 + tid % 2) % half + 1].cookie
    local theme = ({ "dark", "light" })[math.floor(n / per) % 2 + 1]
    return wrk.format("POST", "/preferences", form, "theme=" .. theme)
  end
  local email, cookie = s.email, s.cookie
  if scenario == "write-change" then
    email = "u" .. tid .. "x" .. n .. "@example.com"
    if jar_n > 0 then
      cookie, jar[jar_n], jar_n = jar[jar_n], nil, jar_n - 1
    else
      -- A session of the file only once, and only this thread's (every
      -- other one): the change renews its ID, and a second use would
      -- carry the retired one (409). None left: a new visitor.
      fresh = fresh + 1
      local i = half + (fresh - 1) * 2 + tid % 2 + 1
      cookie = i <= #sessions and sessions[i].cookie or nil
    end
  end
  form.Cookie = cookie
  return wrk.format("POST", "/set_email", form, "email_address=" .. email)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d bad_status=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
