-- wrk script for bench/delivery.sh (the smtp workload): POST /v1/verifications with channel "email", each to a new
-- address whose local part carries the wall-clock time at which the request was built (request() runs as wrk
-- writes the request to the socket):
--
--     <phase>.<thread>.<seq>.<unix seconds>.<microseconds, 6 digits>@bench.example
--
-- The SMTP test server records `received_at` (Python time.time(), the same realtime clock) in every mail it
-- accepts, so each mail tells how long it took from "start sent" to "SMTP server accepted" (bench/delivery.sh
-- computes the percentiles). The start response's created_at has whole seconds only, so it is not used.
-- Unique addresses also keep the per-destination start limit from ever tripping.
--
-- Environment (read by every wrk thread):
--   BENCH_API_KEY   the tenant's API key (required)
--   BENCH_PHASE     a tag for the addresses, "w" (warm-up) or "m" (measured), so the two runs' mails are told apart
--
-- Wall time comes from gettimeofday(2) through LuaJIT's FFI (wrk runs LuaJIT); plain Lua has only whole seconds.
--
-- done() prints "BENCH_RESULT key=value ..." with the same keys as bench/start.lua (rps, p50_us, p99_us, bad,
-- connect_errors, ...) plus created= (201 answers), and "BENCH_FIRST_BAD ..." for the first unexpected answer.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } otpgate_bench_timeval;
int gettimeofday(otpgate_bench_timeval *tv, void *tz);
]]
local tv = ffi.new("otpgate_bench_timeval")

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

function init(args)
   local key = os.getenv("BENCH_API_KEY")
   if key == nil or key == "" then error("BENCH_API_KEY is not set") end
   phase = os.getenv("BENCH_PHASE") or ""
   if not string.match(phase, "^[a-z]$") then error("BENCH_PHASE must be one lowercase letter, not '" .. phase .. "'") end
   local host = wrk.host
   if wrk.port then host = host .. ":" .. wrk.port end
   header_block = "POST /v1/verifications HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer " .. key ..
      "\r\nContent-Type: application/json\r\nContent-Length: "
   seq = 0
   responses = 0
   created = 0
   bad = 0
   first_bad = ""
end

function request()
   seq = seq + 1
   ffi.C.gettimeofday(tv, nil)
   local to = string.format("%s.%d.%d.%d.%06d@bench.example", phase, tid, seq, tonumber(tv.tv_sec), tonumber(tv.tv_usec))
   local body = '{"to":"' .. to .. '","channel":"email"}'
   return header_block .. #body .. "\r\n\r\n" .. body
end

function response(status, headers, body)
   responses = responses + 1
   if status == 201 then
      created = created + 1
   else
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
   end
end

function done(summary, latency, requests)
   local created_total, bad_total, first = 0, 0, ""
   for _, t in ipairs(threads) do
      created_total = created_total + (t:get("created") or 0)
      bad_total = bad_total + (t:get("bad") or 0)
      local fb = t:get("first_bad") or ""
      if first == "" and fb ~= "" then first = fb end
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d bad=%d created=%d" ..
      " connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      bad_total, created_total, e.connect, e.read, e.write, e.timeout))
   if first ~= "" then
      io.write("BENCH_FIRST_BAD " .. string.gsub(first, "\n", " ") .. "\n")
   end
end
