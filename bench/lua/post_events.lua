-- POST pre-signed Stripe events to the URL, one per request.
--
--   wrk ... -s bench/lua/post_events.lua http://127.0.0.1:PORT/webhooks/stripe -- EVENTS_FILE THREADS
--
-- EVENTS_FILE holds one event a line: the Stripe-Signature header, a tab, then the JSON body
-- (Lua has no HMAC, so bench/events.py signs them beforehand). Thread k of THREADS takes lines
-- k, k+THREADS, k+2*THREADS... so no two threads send the same event. A thread that runs out
-- starts its lines again; done() prints how often that happened as "bench-wrapped: N", so a run
-- meant to send distinct events can tell that it did not.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  table.insert(threads, thread)
end

function init(args)
  local path, total = args[1], tonumber(args[2]) or 1
  events = {}
  local line_number = 0
  for line in io.lines(path) do
    if line_number % total == thread_number - 1 then
      local tab = line:find("\t", 1, true)
      events[#events + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
    end
    line_number = line_number + 1
  end
  if #events == 0 then
    error("no events for thread " .. thread_number .. " in " .. path)
  end
  position = 0
  wrapped = 0
end

function request()
  position = position + 1
  if position > #events then
    position = 1
    wrapped = wrapped + 1
  end
  local event = events[position]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = event[1],
  }, event[2])
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("wrapped") or 0)
  end
  io.write(string.format("bench-wrapped: %d\n", total))
end
