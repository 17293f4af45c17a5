-- wrk script: POST /v1/verifications, each request to a fresh random Indian mobile number
-- (+91, then 10 digits starting 6-9), so the per-destination limit (5 starts / 10 min) never trips.
--
-- Environment (read by every wrk thread):
--   BENCH_API_KEY       the tenant's API key (required)
--   BENCH_THREADS       wrk's -t value (required when BENCH_START_LIMIT is set)
--   BENCH_START_LIMIT   optional: send exactly this many starts in total, then stop (the check preload)
--   BENCH_TTL_SECONDS   optional: "ttl_seconds" to send (the preload asks for 600, the maximum)
--
-- done() prints one machine-readable line, "BENCH_RESULT key=value ...", that bench/run.sh parses.

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local function env_number(name)
   local v = os.getenv(name)
   if v == nil or v == "" then return nil end
   local n = tonumber(v)
   if n == nil then error(name .. " must be a number, not " .. v) end
   return n
end

function init(args)
   local key = os.getenv("BENCH_API_KEY")
   if key == nil or key == "" then error("BENCH_API_KEY is not set") end
   -- The raw request is built by hand: one concatenation per request.
   local host = wrk.host
   if wrk.port then host = host .. ":" .. wrk.port end
   header_block = "POST /v1/verifications HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer " .. key ..
      "\r\nContent-Type: application/json\r\nContent-Length: "

   -- Each thread has its own Lua state and LuaJIT seeds them all alike: mix in the thread id.
   math.randomseed(os.time() * 7919 + tid * 104729 + math.floor((os.clock() * 1e6) % 1e6))

   ttl = env_number("BENCH_TTL_SECONDS")
   limit = nil
   local total = env_number("BENCH_START_LIMIT")
   if total then
      local nthreads = env_number("BENCH_THREADS")
      if not nthreads then error("BENCH_THREADS is required with BENCH_START_LIMIT") end
      limit = math.floor(total / nthreads)
      if tid < total % nthreads then limit = limit + 1 end
   end

   -- wrk calls request() once on thread 0, right after init, only to check the request parses;
   -- that request is never sent, so it must not count towards the limit.
   verify_call_pending = (tid == 0)
   sent = 0
   responses = 0
   bad = 0
   first_bad = ""
end

local function start_request()
   local to = string.format("+91%d%09d", math.random(6, 9), math.random(0, 999999999))
   local body
   if ttl then
      body = string.format('{"to":"%s","channel":"sms","ttl_seconds":%d}', to, ttl)
   else
      body = '{"to":"' .. to .. '","channel":"sms"}'
   end
   return header_block .. #body .. "\r\n\r\n" .. body
end

function request()
   if verify_call_pending then
      verify_call_pending = false
      return start_request()
   end
   if limit and sent >= limit then
      -- This thread has sent its share: stop its event loop. wrk still writes the request returned
      -- here, so make it a harmless read.
      wrk.thread:stop()
      return wrk.format("GET", "/healthz", {}, nil)
   end
   sent = sent + 1
   return start_request()
end

function response(status, headers, body)
   responses = responses + 1
   if status < 200 or status > 299 then
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
   end
end

function done(summary, latency, requests)
   local sent_total, bad_total, first = 0, 0, ""
   for _, t in ipairs(threads) do
      sent_total = sent_total + (t:get("sent") or 0)
      bad_total = bad_total + (t:get("bad") or 0)
      local fb = t:get("first_bad") or ""
      if first == "" and fb ~= "" then first = fb end
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d bad=%d sent=%d" ..
      " connect_errors=%d read_errors=%d write_errors=%d timeouts=%d exhausted=0\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      bad_total, sent_total, e.connect, e.read, e.write, e.timeout))
   if first ~= "" then
      io.write("BENCH_FIRST_BAD " .. string.gsub(first, "\n", " ") .. "\n")
   end
end
