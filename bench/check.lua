-- wrk script: POST /v1/verifications/{id}/check with the right code, each request a different verification.
--
-- The pool file has one "verification_id code" pair a line (bench/run.sh makes it from the console channel's
-- output). Lines before BENCH_POOL_OFFSET were used by an earlier run (the warm-up); of the rest, thread t of n
-- takes lines t, t+n, t+2n, ... so no two requests check the same verification. A thread that runs out stops
-- and the run is reported as exhausted (its requests/s would be too low): give run.sh a bigger BENCH_CHECK_POOL.
--
-- Environment:
--   BENCH_API_KEY      the tenant's API key (required)
--   BENCH_POOL         path of the pool file (required)
--   BENCH_THREADS      wrk's -t value (required)
--   BENCH_POOL_OFFSET  pool lines to skip (default 0)
--   BENCH_POOL_STATE   optional: done() writes the first unused line number here, for the next run's offset
--
-- done() prints one machine-readable line, "BENCH_RESULT key=value ...", that bench/run.sh parses.

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local function required(name)
   local v = os.getenv(name)
   if v == nil or v == "" then error(name .. " is not set") end
   return v
end

local function env_number(name, default)
   local v = os.getenv(name)
   if v == nil or v == "" then return default end
   local n = tonumber(v)
   if n == nil then error(name .. " must be a number, not " .. v) end
   return n
end

function init(args)
   local key = required("BENCH_API_KEY")
   local path = required("BENCH_POOL")
   local nthreads = env_number("BENCH_THREADS", nil)
   if not nthreads then error("BENCH_THREADS is not set") end
   local offset = env_number("BENCH_POOL_OFFSET", 0)

   -- The raw request is built by hand: one concatenation per request, nothing kept but the ids and codes.
   local host = wrk.host
   if wrk.port then host = host .. ":" .. wrk.port end
   header_block = " HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer " .. key ..
      "\r\nContent-Type: application/json\r\nContent-Length: "
   ids, codes = {}, {}
   local i = 0
   for line in io.lines(path) do
      if i >= offset and (i - offset) % nthreads == tid then
         local id, code = string.match(line, "^(%S+)%s+(%d+)%s*$")
         if id then
            ids[#ids + 1] = id
            codes[#codes + 1] = code
         end
      end
      i = i + 1
   end
   pool_size = #ids
   -- wrk calls request() once on thread 0 right after init only to check it parses; it is never sent.
   verify_call_pending = (tid == 0)
   used = 0
   responses = 0
   bad = 0
   exhausted = 0
   first_bad = ""
end

local function check_request(n)
   local body = '{"code":"' .. codes[n] .. '"}'
   return "POST /v1/verifications/" .. ids[n] .. "/check" .. header_block .. #body .. "\r\n\r\n" .. body
end

function request()
   if verify_call_pending then
      verify_call_pending = false
      if pool_size > 0 then return check_request(1) end
   end
   if used >= pool_size then
      exhausted = 1
      wrk.thread:stop()
      return wrk.format("GET", "/healthz", {}, nil)
   end
   used = used + 1
   return check_request(used)
end

function response(status, headers, body)
   responses = responses + 1
   if status ~= 200 then
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
   end
end

function done(summary, latency, requests)
   local nthreads = env_number("BENCH_THREADS", 1)
   local offset = env_number("BENCH_POOL_OFFSET", 0)
   local max_used, bad_total, exhausted_total, used_total, first = 0, 0, 0, 0, ""
   for _, t in ipairs(threads) do
      local u = t:get("used") or 0
      used_total = used_total + u
      if u > max_used then max_used = u end
      bad_total = bad_total + (t:get("bad") or 0)
      exhausted_total = exhausted_total + (t:get("exhausted") or 0)
      local fb = t:get("first_bad") or ""
      if first == "" and fb ~= "" then first = fb end
   end
   local state = os.getenv("BENCH_POOL_STATE")
   if state and state ~= "" then
      local f = assert(io.open(state, "w"))
      f:write(string.format("%d\n", offset + max_used * nthreads))
      f:close()
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d bad=%d sent=%d" ..
      " connect_errors=%d read_errors=%d write_errors=%d timeouts=%d exhausted=%d\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      bad_total, used_total, e.connect, e.read, e.write, e.timeout, exhausted_total))
   if first ~= "" then
      io.write("BENCH_FIRST_BAD " .. string.gsub(first, "\n", " ") .. "\n")
   end
end
